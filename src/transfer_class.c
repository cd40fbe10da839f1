/*
 * transfer_class.c - what a libcurl failure is to a retry policy: its
 * class, and whether the request may have reached the server (see
 * transfer.h). A pure function of libcurl's code, kept apart so that
 * spec/c/test_transfer.c checks every code without a transfer.
 */
#include "transfer.h"

enum policy_class transfer_classify(CURLcode code, int started, int *sent)
{
  enum policy_class cls;

  switch(code) {
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
    *sent = 0;
    return POLICY_DNS;
  case CURLE_COULDNT_CONNECT:
    *sent = 0;
    return POLICY_CONNECT;
  case CURLE_OPERATION_TIMEDOUT:
    if(!started) {
      *sent = 0;
      return POLICY_CONNECT;
    }
    cls = POLICY_TIMEOUT;
    break;
  case CURLE_SEND_ERROR:
  case CURLE_RECV_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_PARTIAL_FILE:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
  case CURLE_HTTP3:
    cls = POLICY_RESET;
    break;
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_SSL_ENGINE_NOTFOUND:
  case CURLE_SSL_ENGINE_SETFAILED:
  case CURLE_SSL_CRL_BADFILE:
  case CURLE_SSL_SHUTDOWN_FAILED:
  case CURLE_USE_SSL_FAILED:
    *sent = 0;   /* a failed handshake carried no request */
    return POLICY_TLS;
  case CURLE_FILESIZE_EXCEEDED:
    cls = POLICY_TOO_LARGE;
    break;
  default:
    cls = POLICY_OTHER;
    break;
  }
  *sent = started;
  return cls;
}

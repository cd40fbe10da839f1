"""client.py - the Python contenders: requests with urllib3's Retry, and
requests with tenacity (the article's decorator approach).

    /usr/bin/python3 client.py urllib3|tenacity URL N [CONCURRENCY [TOKEN]]

N GETs on a keep-alive requests.Session (one per thread), each response
checked the way the workloads ask: 'summary' in resp.json()[0]. Retries: 4
attempts in all, on a connection error, a 5xx or an invalid 200, waiting a
full-jitter backoff (1 ms base, doubling) as every contender does.

- urllib3: Retry mounted on the session handles errors and 5xx; it cannot
  look at bodies, so an invalid 200 is retried by a loop of our own.
- tenacity: one @retry decorator that retries on the predicate, the way the
  article's mk_retryer does.

With CONCURRENCY > 1 a ThreadPoolExecutor runs the calls, one Session per
thread. Prints "valid=N retries=R"; a call that gives up raises (exit 1).
Run it with Debian's /usr/bin/python3, where python3-requests and
python3-tenacity are installed.
"""
import concurrent.futures
import random
import sys
import threading
import time

import requests
import tenacity
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

ATTEMPTS = 4
BACKOFF = 0.001  # seconds, the first retry's cap
STATUSES = [500, 502, 503, 504]

lock = threading.Lock()
retries = 0
local = threading.local()


def count_retry(*_):
    global retries
    with lock:
        retries += 1


def is_valid(resp):
    """The workloads' predicate; a body it cannot read is not valid."""
    try:
        return resp.status_code == 200 and "summary" in resp.json()[0]
    except (ValueError, LookupError, TypeError):
        return False


def session():
    """One keep-alive session per thread, with urllib3's Retry mounted."""
    s = getattr(local, "session", None)
    if s is None:
        s = local.session = requests.Session()
        if MODE == "urllib3":
            retry = Retry(total=ATTEMPTS - 1, status_forcelist=STATUSES,
                          backoff_factor=BACKOFF, raise_on_status=True)
            s.mount("http://", HTTPAdapter(max_retries=retry))
        s.headers.update(HEADERS)
    return s


def get_urllib3(url):
    """Retry handles errors and 5xx; the body check needs a loop of our own."""
    for attempt in range(1, ATTEMPTS + 1):
        resp = session().get(url, timeout=30)
        for _ in resp.raw.retries.history:
            count_retry()
        if is_valid(resp):
            return resp
        if attempt < ATTEMPTS:
            count_retry()
            time.sleep(random.uniform(0, BACKOFF * 2 ** attempt))
    raise RuntimeError("GET %s gave up: %s" % (url, resp.status_code))


@tenacity.retry(
    retry=tenacity.retry_if_exception_type(requests.RequestException)
    | tenacity.retry_if_not_result(is_valid),
    stop=tenacity.stop_after_attempt(ATTEMPTS),
    wait=tenacity.wait_random_exponential(multiplier=BACKOFF),
    before_sleep=count_retry)
def get_tenacity(url):
    return session().get(url, timeout=30)


def main():
    global MODE, HEADERS
    MODE, url, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    conc = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    token = sys.argv[5] if len(sys.argv) > 5 else None
    HEADERS = {"Authorization": "Bearer " + token} if token else {}
    get = get_urllib3 if MODE == "urllib3" else get_tenacity
    if conc == 1:
        valid = sum(1 for _ in range(n) if is_valid(get(url)))
    else:
        with concurrent.futures.ThreadPoolExecutor(conc) as pool:
            calls = pool.map(lambda _: is_valid(get(url)), range(n))
            valid = sum(1 for ok in calls if ok)
    print("valid=%d retries=%d" % (valid, retries))


if __name__ == "__main__":
    main()

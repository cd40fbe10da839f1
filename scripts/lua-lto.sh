#!/bin/sh
# lua-lto.sh OUT DEBIAN_A CC CFLAGS LDFLAGS - the Lua that retryrun links.
#
# Writes OUT, a static Lua library: the installed liblua5.4-dev's own
# Debian source (upstream's tarball and Debian's patches, fetched from
# the Debian archive the system's apt uses and checked against the
# SHA-256 sums below), its hot files compiled for link-time optimisation,
# so that the Lua API calls retryrun makes on every request (some 180)
# can be inlined into it, as they could not be from Debian's
# liblua5.4.a. Where that cannot be done (another liblua5.4-dev version,
# no gcc-ar, xz or patch, no archive to fetch from, a build that fails or
# warns under retryrun's CFLAGS), OUT is a copy of DEBIAN_A, Debian's
# library as it is, and LTO spans retryrun's own code only. Either way
# the Lua is the one the headers retryrun compiles against describe.
#
# make runs it when OUT is missing or older than this script or
# DEBIAN_A (a Debian update of liblua5.4-dev). It says what OUT is in one
# line, kept in OUT.what for the link's line; the compiler's words go to
# OUT.log. With an empty DEBIAN_A it makes nothing: retryrun then links
# the shared library, as the Makefile does without a static one.
set -u

out=$1 debian_a=$2 cc=$3 cflags=$4 ldflags=${5-}
dir=$(dirname "$out")

# The source of this liblua5.4-dev, and the sums of its two files.
VERSION=5.4.4-3+deb12u1
ORIG=lua5.4_5.4.4.orig.tar.gz
ORIG_SHA256=164c7849653b80ae67bec4b7473b884bf5cc8d2dca05653475ec2ed27b9ebf61
DEB=lua5.4_5.4.4-3+deb12u1.debian.tar.xz
DEB_SHA256=2d8e0e380722c648cfeffb8d58287865619b4d035544d93d7ef3a2eaf627abe6
POOL=pool/main/l/lua5.4

# Compiled for LTO: what a request runs (the API, the VM, calls, tables,
# strings, the collector, the base and coroutine libraries). The rest
# (the parser, the code generator, dump and undump, the debug
# interface, the I/O and OS libraries) is compiled as Debian compiles it
# (the compiler's modules with -Os): none of it is on a request's path,
# and the code generator warns under -Wall at an LTO link.
HOT="lapi lauxlib lbaselib lcorolib ldo lfunc lgc lmem lobject lstate
     lstring ltable ltm lvm lzio lstrlib ltablib lmathlib"
COLD="lctype ldebug ldump lopcodes lundump linit
      ldblib liolib loadlib loslib lutf8lib"
SMALL="lcode llex lparser"
# Debian's build: upstream's make linux-readline with dpkg-buildflags's
# hardening (luaconf.h includes lua5.4-deb-multiarch.h, which
# liblua5.4-dev installs)
FLAGS="-std=gnu99 -g -fstack-protector-strong -D_FORTIFY_SOURCE=2
       -DLUA_COMPAT_5_3 -DLUA_USE_LINUX"

mkdir -p "$dir" || exit 1
if [ -z "$debian_a" ]; then
  echo "  LUA     no liblua5.4.a: retryrun links the shared library"
  exit 0
fi

# One build at a time in a BUILD directory: another that ran while this
# one waited has made OUT already.
exec 9>"$dir/.lock" || exit 1
if command -v flock >/dev/null 2>&1; then
  flock 9
  [ -e "$out" ] && [ "$out" -nt "$0" ] && [ "$out" -nt "$debian_a" ] && exit 0
fi
rm -f "$out" "$out.what"
log=$out.log
: >"$log" || exit 1
work=$(mktemp -d "$dir/work.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM         # an interrupt stops it, no fallback

# made WHAT: OUT is WHAT, said and kept in OUT.what; OUT comes last, as
# it tells make that all is done.
made() {
  echo "  LUA     $out: $1"
  echo "$1" >"$out.what"
}

fallback() {
  made "Debian's liblua5.4.a as it is ($1)"
  cp "$debian_a" "$work/liblua.a" && mv "$work/liblua.a" "$out"
  exit
}

# Debian's archive as the system's apt names it, deb.debian.org after it.
mirrors() {
  sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources \
    2>/dev/null | tr ' ' '\n'
  sed -n 's/^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]*\)\{0,1\}\([^[:space:]]*\).*/\2/p' \
    /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null
  echo http://deb.debian.org/debian
}

# fetch FILE SHA256: into $dir, from the first archive that has it, unless
# a copy with that sum is there. In the foreground, so that an interrupt
# stops it at once.
fetch() {
  if [ -e "$dir/$1" ]; then
    echo "$2  $dir/$1" | sha256sum -c --status && return 0
    rm -f "$dir/$1"
  fi
  for m in $(mirrors | grep -v -e security -e '^$' | awk '!seen[$0]++'); do
    if timeout --foreground 30 /usr/lib/apt/apt-helper download-file \
         "${m%/}/$POOL/$1" "$work/$1" "SHA256:$2" >>"$log" 2>&1; then
      mv "$work/$1" "$dir/$1"
      return 0
    fi
  done
  return 1
}

installed=$(dpkg-query -W -f='${Version}' liblua5.4-dev 2>/dev/null)
[ "$installed" = "$VERSION" ] ||
  fallback "liblua5.4-dev ${installed:-not installed}, source known for $VERSION"
for tool in gcc-ar xz patch tar timeout sha256sum /usr/lib/apt/apt-helper; do
  command -v "$tool" >/dev/null 2>&1 || fallback "no $tool"
done
$cc -v 2>&1 | grep -q '^gcc version' || fallback "$cc is not gcc"

echo "  LUA     $out: fetching and building Lua $VERSION from Debian's source"
fetch "$ORIG" "$ORIG_SHA256" || fallback "$ORIG could not be fetched"
fetch "$DEB" "$DEB_SHA256" || fallback "$DEB could not be fetched"

src=$work/lua-$VERSION
mkdir -p "$src" "$work/obj"
{ tar -xzf "$dir/$ORIG" -C "$src" --strip-components=1 &&
  tar -xJf "$dir/$DEB" -C "$src"; } >>"$log" 2>&1 ||
  fallback "the source does not unpack"
for p in $(cat "$src/debian/patches/series"); do
  patch -s -N --batch -p1 -d "$src" <"$src/debian/patches/$p" >>"$log" 2>&1 ||
    fallback "Debian's $p does not apply"
done

# compile "OPTIONS" FILE...: each FILE.c of the source, with FLAGS and them
compile() {
  opt=$1
  shift
  for f; do
    # shellcheck disable=SC2086
    $cc $FLAGS $opt -c "$src/src/$f.c" -o "$work/obj/$f.o" >>"$log" 2>&1 ||
      fallback "$f.c does not compile: see $log"
  done
}
# shellcheck disable=SC2086
{ compile "-O2 -flto=auto" $HOT; compile -O2 $COLD; compile -Os $SMALL; }
gcc-ar rcs "$work/liblua.a" "$work"/obj/*.o >>"$log" 2>&1 ||
  fallback "gcc-ar failed: see $log"

# A program linked as retryrun is, that must build without a warning and
# run a chunk: else the library is not used.
cat >"$work/probe.c" <<'EOF'
#include <lauxlib.h>
#include <lualib.h>

int main(void)
{
  lua_State *L = luaL_newstate();
  int rc;
  luaL_openlibs(L);
  rc = luaL_dostring(L, "return require('string').rep('x', 3) == 'xxx' "
                        "and coroutine.wrap(function() return 1 end)()");
  rc = rc || !lua_toboolean(L, -1);
  lua_close(L);
  return rc;
}
EOF
# shellcheck disable=SC2086
$cc $cflags -flto=auto -I/usr/include/lua5.4 $ldflags "$work/probe.c" \
  -o "$work/probe" "$work/liblua.a" -ldl -lm >>"$log" 2>&1 ||
  fallback "a program linked with it does not build: see $log"
"$work/probe" >>"$log" 2>&1 ||
  fallback "a program linked with it does not run"
made "Lua $VERSION from Debian's source, with LTO"
mv "$work/liblua.a" "$out"

#!/usr/bin/env bash
# sdk_out_of_tree: installs a micro-cpp build into a temp prefix, builds sdk/template (the
# acme.echo codec) and a tiny application out of tree against it with find_package(micro),
# then loads acme.echo through config files: by absolute path ("use": "/abs/x.so"), by name
# from "plugins.path", and with a misspelt option, which must be refused.
#
# usage: out_of_tree.sh BUILD_DIR [runtime|loader] [SANITIZERS] [CXX] [GENERATOR]
# Set SDK_TEST_KEEP_TMP=1 to keep the temp dir. Exits non-zero on the first failure.
set -euo pipefail
umask 022

build=$(cd "${1:?usage: out_of_tree.sh BUILD_DIR [runtime|loader] [SANITIZERS] [CXX] [GENERATOR]}" && pwd)
mode=${2:-loader}
sanitize=${3:-}
cxx=${4:-c++}
generator=${5:-}
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# The test must see only what its config files say.
while read -r v; do unset "$v"; done < <(env | sed -n 's/^\(MICRO_[A-Za-z0-9_]*\)=.*/\1/p')

work=$(mktemp -d "${TMPDIR:-/tmp}/micro-sdk-test.XXXXXX")
chmod 755 "$work"
log=$work/log
if [[ ${SDK_TEST_KEEP_TMP:-} == 1 ]]; then
  trap 'echo "kept $work"' EXIT
else
  trap 'rm -rf "$work"' EXIT
fi

fail() {
  echo "sdk_out_of_tree: FAILED: $*" >&2
  if [[ -s $log ]]; then
    echo "---- last output ----" >&2
    tail -n 60 "$log" >&2
  fi
  exit 1
}
step() { echo "== $*"; }
run() { "$@" >"$log" 2>&1 || fail "$* (exit $?)"; }

cmake_args=(-DCMAKE_PREFIX_PATH="$work/sdk" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo)
[[ -n $generator ]] && cmake_args+=(-G "$generator")
if [[ -n $sanitize ]]; then
  flags="-fsanitize=$sanitize -fno-omit-frame-pointer"
  cmake_args+=(-DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags"
               -DCMAKE_MODULE_LINKER_FLAGS="$flags" -DCMAKE_SHARED_LINKER_FLAGS="$flags")
fi

step "install $build into $work/sdk"
run cmake --install "$build" --prefix "$work/sdk"
for f in include/micro/plugin.h include/micro/runtime.h lib/libmicro_core.so bin/micro \
         lib/micro/plugins/micro-codec-bytes.so \
         lib/cmake/micro/microConfig.cmake lib/cmake/micro/microConfigVersion.cmake \
         lib/cmake/micro/microTargets.cmake lib/cmake/micro/MicroPlugin.cmake; do
  [[ -e $work/sdk/$f ]] || fail "the install has no $f"
done

step "build sdk/template out of tree"
run cmake -S "$src/sdk/template" -B "$work/acme-build" "${cmake_args[@]}"
run cmake --build "$work/acme-build"
so=$work/acme-build/lib/micro/plugins/micro-codec-acme.echo.so
[[ -f $so ]] || fail "building the template did not produce $so"
run cmake --install "$work/acme-build" --prefix "$work/acme"
[[ -f $work/acme/lib/micro/plugins/micro-codec-acme.echo.so ]] ||
  fail "installing the template did not produce $work/acme/lib/micro/plugins/micro-codec-acme.echo.so"

step "build an application out of tree"
run cmake -S "$src/sdk/tests/load_check" -B "$work/app" "${cmake_args[@]}"
run cmake --build "$work/app"
app=$work/app/load_check
# Capture first: with pipefail, `ldd | grep -q` fails when grep exits early and ldd gets SIGPIPE.
deps=$(ldd "$app") || fail "ldd $app"
grep -q "$work/sdk/lib/libmicro_core.so" <<<"$deps" ||
  fail "load_check is not linked against the installed libmicro_core: $(grep micro_core <<<"$deps")"

# The codecs list: the defaults (only bytes in loader mode, where others may not be built).
if [[ $mode == runtime ]]; then
  defaults='"json", "protobuf", "bytes"'
else
  defaults='"bytes"'
fi

step "load acme.echo by absolute path"
cat >"$work/by-path.json" <<JSON
{"codecs": [$defaults, {"use": "$so", "options": {"prefix": "acme:"}}]}
JSON
"$app" "$mode" "$work/by-path.json" "acme:" >"$log" 2>&1 || fail "loading by path"
cat "$log"
grep -q "bytes $work/sdk/lib/micro/plugins/micro-codec-bytes.so" "$log" ||
  fail "bytes was not found in the installed plugin dir next to libmicro_core"
grep -q "acme.echo $so" "$log" || fail "acme.echo was not loaded from $so"

step "load acme.echo by name from plugins.path"
cat >"$work/by-name.json" <<JSON
{"plugins": {"path": ["$work/acme/lib/micro/plugins"]},
 "codecs": [$defaults, {"use": "acme.echo"}]}
JSON
"$app" "$mode" "$work/by-name.json" "" >"$log" 2>&1 || fail "loading by name"
cat "$log"
grep -q "acme.echo $work/acme/lib/micro/plugins/micro-codec-acme.echo.so" "$log" ||
  fail "acme.echo was not loaded from plugins.path"

step "a misspelt option is refused"
cat >"$work/bad-option.json" <<JSON
{"plugins": {"path": ["$work/acme/lib/micro/plugins"]},
 "codecs": [$defaults, {"use": "acme.echo", "options": {"prefx": "x"}}]}
JSON
if "$app" "$mode" "$work/bad-option.json" "" >"$log" 2>&1; then
  fail "a config with the unknown option \"prefx\" was accepted"
fi
cat "$log"
grep -q 'prefx: unknown key' "$log" || fail "the error does not name the unknown key prefx"

step "the installed micro command sees the plugins"
micro=$work/sdk/bin/micro
"$micro" plugins inspect "$so" >"$log" 2>&1 || fail "micro plugins inspect $so"
cat "$log"
grep -q "acme.echo" "$log" && grep -q "prefix" "$log" ||
  fail "micro plugins inspect does not show the name acme.echo and the option prefix"
MICRO_PLUGIN_PATH=$work/acme/lib/micro/plugins "$micro" plugins list >"$log" 2>&1 ||
  fail "micro plugins list"
cat "$log"
grep -q "bytes .*$work/sdk/lib/micro/plugins/micro-codec-bytes.so" "$log" ||
  fail "micro plugins list does not show the installed plugins next to libmicro_core"
grep -q "acme.echo .*$work/acme/lib/micro/plugins/micro-codec-acme.echo.so" "$log" ||
  fail "micro plugins list does not show acme.echo from MICRO_PLUGIN_PATH"

echo "sdk_out_of_tree: OK"

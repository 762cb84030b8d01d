#!/usr/bin/env python3
"""Runs a README walkthrough exactly as a user would paste it.

The fenced ```sh block after `<!-- walkthrough: NAME -->` runs as one bash
script from the repository root, with HOME pointing at a directory where
~/credproxy is this repository (the block says `CP=~/credproxy/build/...`).
Every `#  -> TEXT` comment in the block is an expectation: the outputs must
contain each TEXT, in order. Everything the block starts is killed at the
end (its own process group); the whole run is bounded by --timeout.
"""
import argparse
import os
import pathlib
import re
import signal
import subprocess
import sys
import tempfile


def extract_block(readme: str, name: str) -> str:
    marker = f"<!-- walkthrough: {name} -->"
    start = readme.find(marker)
    if start < 0:
        sys.exit(f"no walkthrough marker {marker!r} in the README")
    fence = re.compile(r"```sh\n(.*?)\n```", re.S).search(readme, start)
    if not fence:
        sys.exit(f"no ```sh block after {marker!r}")
    return fence.group(1)


def expectations(block: str) -> list[str]:
    return [m.group(1).strip() for m in re.finditer(r"^#  -> (.*)$", block, re.M)]


def run(block: str, repo: pathlib.Path, timeout: int) -> tuple[int, str]:
    with tempfile.TemporaryDirectory(prefix="credproxy-readme-") as home:
        (pathlib.Path(home) / "credproxy").symlink_to(repo)
        env = dict(os.environ, HOME=home)
        for variable in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "NO_PROXY", "no_proxy"):
            env.pop(variable, None)
        process = subprocess.Popen(["bash", "-e", "-c", block], cwd=repo, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
            return -1, output + f"\n[walkthrough: timed out after {timeout} s]"
        finally:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return process.returncode, output


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("readme", type=pathlib.Path)
    parser.add_argument("name")
    parser.add_argument("--timeout", type=int, default=180)
    args = parser.parse_args()
    readme = args.readme.resolve()
    block = extract_block(readme.read_text(), args.name)
    wanted = expectations(block)
    if not wanted:
        sys.exit("the walkthrough states no expected output (#  -> ...): nothing would be checked")
    code, output = run(block, readme.parent, args.timeout)
    position = 0
    for text in wanted:
        found = output.find(text, position)
        if found < 0:
            print(output)
            print(f"\nwalkthrough {args.name!r}: expected output not found (in order): {text!r}", file=sys.stderr)
            return 1
        position = found + len(text)
    if code != 0:
        print(output)
        print(f"\nwalkthrough {args.name!r}: the block exited with {code}", file=sys.stderr)
        return 1
    print(f"walkthrough {args.name!r}: {len(wanted)} expected outputs seen, exit 0")
    return 0


if __name__ == "__main__":
    sys.exit(main())

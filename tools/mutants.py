#!/usr/bin/env python3
"""Hand-written mutation check of Switchyard's scheduling and synchronisation code.

Each mutation (listed in tools/mutations.py) is a small deliberate bug: exact pieces of one
source file replaced by others. For each, this script applies that one mutation to a scratch
copy of the committed tree, runs the test command that should notice it, puts the original
back, and records whether the suite killed the mutant (the command failed) or let it survive
(the command passed). A mutant that does not compile
is "unviable" (a mutation list out of date with the code: fix the list). A mutant whose
command runs past its limit is "hang": caught, but only by CI's timeout.

    python3 tools/mutants.py                 # every mutation
    python3 tools/mutants.py --list          # names only
    python3 tools/mutants.py --only s3,lifo  # a subset
    python3 tools/mutants.py --markdown FILE # also write the result table as Markdown

docs/testing.md keeps the latest result and says what each survivor would need. The scratch
copy lives in target/mutants/tree and builds into target/mutants/build (loom: .../loom).
"""

import argparse
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRATCH = os.path.join(ROOT, "target", "mutants", "tree")
# Build directories of the scratch tree's own. Not the project's target/: cargo names a
# workspace member's artifacts by its path relative to the workspace root, so the scratch
# tree's crates would overwrite the project's, and the next build of either could take the
# other's stale artifact as fresh.
TARGET = os.path.join(ROOT, "target", "mutants", "build")
LOOM_TARGET = os.path.join(ROOT, "target", "mutants", "loom")


@dataclass
class Mutation:
    name: str
    what: str  # the rule the mutation breaks, as a reader would say it
    path: str
    edits: list  # (find, replace, count): `find` must occur exactly `count` times
    command: list  # run from the scratch tree's root
    env: dict = field(default_factory=dict)
    limit_s: int = 600


def cargo_test(*args):
    return ["cargo", "test", *args]


def loom(package, filt, preemptions="3"):
    return (
        ["cargo", "test", "--release", "-p", package, "--lib", filt],
        {"RUSTFLAGS": "--cfg loom", "CARGO_TARGET_DIR": LOOM_TARGET,
         "LOOM_MAX_PREEMPTIONS": preemptions},
    )


def mutations():
    m = []

    def add(name, what, path, edits, command, env=None, limit_s=600):
        m.append(Mutation(name, what, path, edits, command, env or {}, limit_s))

    # The MUTATIONS list is kept in tools/mutations.py, beside this driver, so that updating
    # it after a refactor touches one file.
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import mutations as spec  # noqa: E402

    spec.define(add, cargo_test, loom)
    return m


def run(cmd, env, cwd, limit_s, log):
    full_env = dict(os.environ)
    full_env.setdefault("CARGO_TARGET_DIR", TARGET)
    full_env.update(env)
    full_env["CARGO_TERM_COLOR"] = "never"
    started = time.monotonic()
    with open(log, "w") as out:
        try:
            p = subprocess.run(cmd, cwd=cwd, env=full_env, stdout=out, stderr=subprocess.STDOUT,
                               timeout=limit_s, start_new_session=True)
            rc = p.returncode
        except subprocess.TimeoutExpired:
            rc = None
    return rc, time.monotonic() - started


def fresh_tree():
    """The committed tree (HEAD), copied into target/mutants/tree. Every file gets the current
    time as its mtime: cargo decides what to rebuild by mtimes, and `git archive` would give
    the commit's time, older than artifacts that a previous run built from mutated sources."""
    if os.path.isdir(SCRATCH):
        shutil.rmtree(SCRATCH)
    os.makedirs(SCRATCH)
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, check=True,
                             stdout=subprocess.PIPE).stdout
    subprocess.run(["tar", "-x", "-m", "-C", SCRATCH], input=archive, check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="comma-separated mutation names")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--markdown", metavar="FILE")
    args = ap.parse_args()

    all_mutations = mutations()
    if args.list:
        for mu in all_mutations:
            print(f"{mu.name:28} {mu.what}")
        return 0
    chosen = all_mutations
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {mu.name for mu in all_mutations}
        if unknown:
            print(f"unknown mutation(s): {', '.join(sorted(unknown))}; "
                  f"known: {', '.join(mu.name for mu in all_mutations)}", file=sys.stderr)
            return 2
        chosen = [mu for mu in all_mutations if mu.name in wanted]

    os.makedirs(os.path.dirname(SCRATCH), exist_ok=True)
    rows = []
    fresh_tree()
    for mu in chosen:
        path = os.path.join(SCRATCH, mu.path)
        with open(path) as f:
            original = f.read()
        text = original
        problem = None
        for find, replace, expected in mu.edits:
            count = text.count(find)
            if count != expected:
                problem = f"the text to mutate occurs {count} times, not {expected}"
                break
            text = text.replace(find, replace)
        if problem:
            rows.append((mu, f"not applied: {problem}", 0.0))
            print(f"{mu.name}: NOT APPLIED: {problem} in {mu.path}")
            continue
        with open(path, "w") as f:
            f.write(text)
        log = os.path.join(ROOT, "target", "mutants", f"{mu.name}.log")
        rc, took = run(mu.command, mu.env, SCRATCH, mu.limit_s, log)
        if rc is None:
            verdict = "hang (caught by the time limit)"
        elif rc == 0:
            verdict = "SURVIVED"
        else:
            with open(log) as f:
                out = f.read()
            verdict = "unviable (does not compile)" if "could not compile" in out else "killed"
        # Put the original back, with a new mtime, so the next build sees the change.
        with open(path, "w") as f:
            f.write(original)
        rows.append((mu, verdict, took))
        print(f"{mu.name}: {verdict} in {took:.0f} s ({' '.join(mu.command)}; log {log})",
              flush=True)

    table = ["| mutation | the rule it breaks | file | caught by | result |",
             "|---|---|---|---|---|"]
    for mu, verdict, took in rows:
        cmd = " ".join(mu.command)
        if mu.env.get("RUSTFLAGS") == "--cfg loom":
            cmd = "loom: " + cmd
        table.append(f"| `{mu.name}` | {mu.what} | `{mu.path}` | `{cmd}` | {verdict} |")
    print("\n".join(table))
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n".join(table) + "\n")
    survived = [mu.name for mu, verdict, _ in rows if verdict != "killed"
                and not verdict.startswith("hang")]
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())

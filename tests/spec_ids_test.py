#!/usr/bin/env python3
"""Traceability of the format spec: every rule id docs/format-spec.md defines ([SEG-4], [SCAN-2], …)
is cited by at least one test or fuzz target, and every id a test cites is defined by the spec.
Run by meson test; prints the ids and who cites them."""
import os
import re
import sys
import unittest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
ID = re.compile(r"\[([A-Z]+-[0-9]+)\]")


def spec_ids():
    with open(os.path.join(ROOT, "docs", "format-spec.md"), encoding="utf-8") as f:
        return set(ID.findall(f.read()))


def citations():
    cited = {}
    for top in ("tests", "fuzz"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, top)):
            for name in files:
                if not name.endswith((".cc", ".h", ".py")) or name == os.path.basename(__file__):
                    continue
                path = os.path.join(dirpath, name)
                with open(path, encoding="utf-8", errors="replace") as f:
                    for rule in ID.findall(f.read()):
                        cited.setdefault(rule, set()).add(os.path.relpath(path, ROOT))
    return cited


class SpecIds(unittest.TestCase):
    def test_every_rule_is_tested_and_every_citation_is_a_rule(self):
        defined, cited = spec_ids(), citations()
        self.assertGreater(len(defined), 10, "the spec defines almost no rule ids: is the pattern right?")
        for rule in sorted(defined):
            print("%-9s %s" % (rule, ", ".join(sorted(cited.get(rule, ["NOT CITED"])))))
        self.assertEqual(sorted(defined - set(cited)), [], "rules of the spec that no test cites")
        self.assertEqual(sorted(set(cited) - defined), [], "ids tests cite that the spec does not define")


if __name__ == "__main__":
    sys.exit(unittest.main(verbosity=2))

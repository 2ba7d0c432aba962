"""scripts/check-bicep-types.py catches a planted error of every kind, and passes infra/.

Each directory under bicep-planted/ is a small infra/ (main.bicep, maybe modules/ and a
main.parameters.json) with errors of one kind planted in it, and expect.txt: one line per
problem the checker must report, as the start of its `[kind] where: what` text. The checker must
report each of them, nothing else, and exit 1. A kind the checker documents without a planted
directory fails the test too.
"""
import re
import subprocess
import sys
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECKER = ROOT / 'scripts' / 'check-bicep-types.py'
PLANTED = Path(__file__).resolve().parent / 'bicep-planted'


def run(infra):
    r = subprocess.run([sys.executable, str(CHECKER), '--infra', str(infra)], capture_output=True, text=True)
    problems = [line.strip()[len('PROBLEM '):] for line in r.stdout.splitlines() if line.strip().startswith('PROBLEM ')]
    return r, problems


class PlantedErrors(unittest.TestCase):
    def test_every_documented_kind_has_a_planted_case(self):
        doc = CHECKER.read_text().split('"""')[1]
        kinds = set(re.findall(r'^  ([a-z-]+)  ', doc, re.M))
        self.assertGreaterEqual(len(kinds), 10, kinds)
        self.assertEqual(kinds, {p.name for p in PLANTED.iterdir() if p.is_dir()})

    def test_each_planted_error_is_reported(self):
        for case in sorted(p for p in PLANTED.iterdir() if p.is_dir()):
            with self.subTest(kind=case.name):
                expected = [line for line in (case / 'expect.txt').read_text().splitlines() if line.strip()]
                r, problems = run(case)
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                for e in expected:
                    self.assertTrue(e.startswith(f'[{case.name}] '), f'{case.name}/expect.txt: {e}')
                    matches = [p for p in problems if p.startswith(e)]
                    self.assertEqual(len(matches), 1, f'expected one problem starting {e!r}, got {matches}\n' + r.stdout)
                unexpected = [p for p in problems if not any(p.startswith(e) for e in expected)]
                self.assertEqual(unexpected, [], r.stdout)

    def test_infra_passes(self):
        r, problems = run(ROOT / 'infra')
        self.assertEqual((r.returncode, problems), (0, []), r.stdout + r.stderr)
        self.assertIn('0 problem(s)', r.stdout)


if __name__ == '__main__':
    unittest.main()

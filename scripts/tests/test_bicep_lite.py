"""scripts/bicep_lite.py: the Bicep reader the infra checks rely on."""
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'scripts'))
import bicep_lite as bl  # noqa: E402


def ev(text, **env):
    return bl.Evaluator().eval(bl.parse_expression(text), {k: v if isinstance(v, list) else [v] for k, v in env.items()})


class Reader(unittest.TestCase):
    def test_precedence_as_bicep(self):
        # pycep reads this as length(x) <= (50 && ...); Bicep binds <= tighter than &&.
        e = bl.parse_expression("length(x) <= 50 && !contains(x, '_')")
        self.assertEqual(e[0:2], ('bin', '&&'))
        self.assertEqual(ev("length(x) <= 3 && !contains(x, '_')", x='abc'), [True])
        self.assertEqual(ev("1 + 2 * 3 == 7 || false"), [True])
        self.assertEqual(ev("a ? 'x' : b ? 'y' : 'z'", a=False, b=True), ['y'])

    def test_strings_literals_and_identifiers_differ(self):
        self.assertEqual(bl.parse_expression("'clusterId'"), ('str', ['clusterId']))
        self.assertEqual(bl.parse_expression("clusterId"), ('id', 'clusterId'))
        self.assertEqual(ev("'it\\'s ${toUpper(a)}-\\${b}'", a='x'), ["it's X-${b}"])
        self.assertEqual(ev("'${a}${'-'}${length('}')}'", a='q'), ['q-1'])

    def test_alternatives(self):
        self.assertEqual(ev("flag ? 'on' : 'off'", flag=[True, False]), ['on', 'off'])
        self.assertEqual(ev("[for (x, i) in xs: if (x != 'b') '${x}${i}']", xs=[['a', 'b', 'c']]), [['a0', 'c2']])
        u = ev("'st${loc}'")[0]
        self.assertIsInstance(u, bl.Unknown)
        self.assertEqual(len(ev("uniqueString('a')")[0]), 13)

    def test_declarations(self):
        f = bl.parse_text("""
@description('d')
@minLength(2)
param name string = 'x'
var o = { a: 1, 'b-c': [
  1
  2
] }
resource r 'A/b@2020-01-01' existing = {
  name: name
}
module m 'm.bicep' = [for (s, i) in subs: if (i > 0) {
  name: 'm-${i}'
}]
output out string = r.name
""")
        kinds = [(d.kind, d.name) for d in f]
        self.assertEqual(kinds, [('param', 'name'), ('var', 'o'), ('resource', 'r'), ('module', 'm'), ('output', 'out')])
        self.assertIn('minLength', f[0].decorators)
        self.assertTrue(f[2].existing)
        self.assertEqual(f[3].value[0], 'for')

    def test_bad_input_names_file_and_line(self):
        with self.assertRaises(bl.ParseError) as e:
            bl.parse_text("param a string\nfunc f() string => 'x'\n", 'x.bicep')
        self.assertIn("x.bicep:2: unsupported declaration 'func'", str(e.exception))
        with self.assertRaises(bl.ParseError) as e:
            bl.parse_text("var a = 'open\n", 'y.bicep')
        self.assertIn('y.bicep:1', str(e.exception))


if __name__ == '__main__':
    unittest.main()

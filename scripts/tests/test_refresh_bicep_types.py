"""scripts/bicep-types/refresh.py reproduces the committed type data from a bicep-types-az layout.

No copy of bicep-types-az is downloaded: the test writes one from the committed data in the
repository's own layout (generated/<folder>/<namespace>/<api-version>/types.json, `$ref`
references, descriptions, ResourceType entries; every other api-version in `versions` as a
stub), runs refresh.py on it and expects the committed file back byte for byte, and expects it
to refuse a checkout that lacks a type@api-version infra/ uses.
"""
import json
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENDORED = ROOT / 'scripts' / 'bicep-types' / 'bicep-types.json'
REFRESH = ROOT / 'scripts' / 'bicep-types' / 'refresh.py'


def _refs_of(entry):
    """Global type indices an entry of the vendored `types` array refers to, in order."""
    k = entry['$type']
    out = []
    if k in ('ObjectType', 'DiscriminatedObjectType'):
        for props in ('properties', 'baseProperties'):
            out += [p['type'] for p in entry.get(props, {}).values()]
        if isinstance(entry.get('additionalProperties'), int):
            out.append(entry['additionalProperties'])
        if k == 'DiscriminatedObjectType':
            out += list(entry['elements'].values())
    elif k == 'ArrayType':
        out.append(entry['itemType'])
    elif k == 'UnionType':
        out += entry['elements']
    return out


def _to_upstream(entry, local):
    """The vendored entry in bicep-types-az's own shape: {"$ref": "#/N"} and descriptions."""
    ref = lambda n: {'$ref': f'#/{local[n]}'}  # noqa: E731
    e = json.loads(json.dumps(entry))
    if e['$type'] in ('ObjectType', 'DiscriminatedObjectType'):
        for props in ('properties', 'baseProperties'):
            for p in e.get(props, {}).values():
                p['type'] = ref(p['type'])
                p['description'] = 'described upstream'
        if isinstance(e.get('additionalProperties'), int):
            e['additionalProperties'] = ref(e['additionalProperties'])
        if e['$type'] == 'DiscriminatedObjectType':
            e['elements'] = {k: ref(v) for k, v in e['elements'].items()}
    elif e['$type'] == 'ArrayType':
        e['itemType'] = ref(e['itemType'])
    elif e['$type'] == 'UnionType':
        e['elements'] = [ref(v) for v in e['elements']]
    return e


def make_checkout(vendored: dict, root: Path, drop=()):
    """Write a bicep-types-az-shaped tree under root from the vendored data."""
    T = vendored['types']
    by_file = {}
    for key, r in vendored['resources'].items():
        if key not in drop:
            by_file.setdefault(r['file'], []).append(r)
    written = set()
    for rel, resources in by_file.items():
        local, order = {}, []
        queue = [r['body'] for r in resources]
        while queue:
            n = queue.pop(0)
            if n in local:
                continue
            local[n] = len(order); order.append(n)
            queue += _refs_of(T[n])
        data = [_to_upstream(T[n], local) for n in order]
        for r in resources:
            data.append({'$type': 'ResourceType', 'name': r['name'], 'body': {'$ref': f"#/{local[r['body']]}"},
                         'readableScopes': r['readableScopes'], 'writableScopes': r['writableScopes']})
            written.add(r['name'].lower())
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2))
    # Every other api-version bicep-types-az has for these namespaces, as stubs.
    stubs = {}
    for rtype, versions in vendored['versions'].items():
        for v in versions:
            if f'{rtype}@{v}' not in written and f'{rtype}@{v}' not in drop:
                ns = rtype.split('/')[0]
                stubs.setdefault((ns, v), []).append(rtype)
    for (ns, v), rtypes in stubs.items():
        data = [{'$type': 'ObjectType', 'name': 'stub', 'properties': {}}]
        data += [{'$type': 'ResourceType', 'name': f'{t}@{v}', 'body': {'$ref': '#/0'}, 'readableScopes': 8, 'writableScopes': 8}
                 for t in rtypes]
        path = root / 'generated' / 'stub' / ns / v / 'types.json'
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data))


class RefreshTest(unittest.TestCase):
    def setUp(self):
        self.vendored = json.loads(VENDORED.read_text())
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.checkout = Path(self.tmp.name) / 'bicep-types-az'

    def run_refresh(self, out):
        s = self.vendored['source']
        return subprocess.run([sys.executable, str(REFRESH), str(self.checkout), '--out', str(out),
                               '--commit', s['commit'], '--date', s['commitDate'], '--subject', s['subject']],
                              capture_output=True, text=True)

    def test_reproduces_the_committed_data(self):
        make_checkout(self.vendored, self.checkout)
        out = Path(self.tmp.name) / 'out.json'
        r = self.run_refresh(out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(out.read_text()), self.vendored)
        self.assertEqual(out.read_text(), VENDORED.read_text())

    def test_refuses_a_checkout_without_a_used_version(self):
        used = 'microsoft.web/sites@2024-04-01'
        self.assertIn(used, self.vendored['resources'])
        make_checkout(self.vendored, self.checkout, drop={used})
        r = self.run_refresh(Path(self.tmp.name) / 'out.json')
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('Microsoft.Web/sites@2024-04-01 not in', r.stderr)


if __name__ == '__main__':
    unittest.main()

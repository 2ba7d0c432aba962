#!/usr/bin/env python3
"""Regenerate scripts/bicep-types/bicep-types.json from a local checkout of Azure/bicep-types-az.

    git clone --filter=blob:none https://github.com/Azure/bicep-types-az /tmp/bicep-types-az
    python3 scripts/bicep-types/refresh.py /tmp/bicep-types-az

A maintainer tool: it reads only the checkout you give it and downloads nothing (CI never runs
it; CI uses the committed JSON). It keeps, for every resource type infra/ declares: the
api-version(s) infra/ uses and the two newest stable ones (so moving to a newer version can be
checked before it is committed), each as the transitive closure of its body type, with
references renumbered into one `types` array and descriptions dropped; and `versions`: every
api-version the checkout has for every resource type of the namespaces involved. Then update
SOURCES.md (the commit is printed) and run scripts/static-checks.sh.

Options --commit/--date/--subject stand in for `git log` when the checkout is not a git work tree.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / 'scripts'))
import bicep_lite as bl  # noqa: E402

FORMAT = ('infra-schema vendored bicep types 1: refs are indices into types[]; property flags: 1 required, '
          '2 read-only, 4 write-only, 8 deploy-time constant, 16 identifier; scopes: 1 tenant, 2 management '
          'group, 4 subscription, 8 resource group, 16 extension')
STABLE = re.compile(r'^\d{4}-\d{2}-\d{2}$')


def used_types(infra: Path) -> set[str]:
    out = set()
    for f in sorted(infra.rglob('*.bicep')):
        for d in bl.parse_file(f).of('resource'):
            out.add(d.type)
    return out


def _ref(node):
    if isinstance(node, dict) and set(node) == {'$ref'}:
        m = re.fullmatch(r'#/(\d+)', node['$ref'])
        if not m:
            raise ValueError(f"unsupported reference {node['$ref']} (only same-file #/N)")
        return int(m.group(1))
    return None


def convert(entry, remap):
    """entry with its {"$ref": "#/N"} turned into remap(N) and descriptions dropped."""
    r = _ref(entry)
    if r is not None:
        return remap(r)
    if isinstance(entry, dict):
        # a `description` text, not a property named description (whose value is an object)
        return {k: convert(v, remap) for k, v in entry.items() if not (k == 'description' and isinstance(v, str))}
    if isinstance(entry, list):
        return [convert(v, remap) for v in entry]
    return entry


def refresh(checkout: Path, infra: Path, source: dict) -> dict:
    used = used_types(infra)
    namespaces = sorted({t.split('/')[0].lower() for t in used})
    index = {}  # 'type@version' lower -> (file, position, entry)
    versions: dict[str, set] = {}
    for ns in namespaces:
        for path in sorted(checkout.glob(f'generated/*/{ns}/*/types.json')):
            rel = path.relative_to(checkout).as_posix()
            data = json.loads(path.read_text())
            for pos, entry in enumerate(data):
                if entry.get('$type') != 'ResourceType':
                    continue
                key = entry['name'].lower()
                rtype, version = key.split('@')
                versions.setdefault(rtype, set()).add(version)
                index.setdefault(key, (rel, pos, entry))
    selected = set()
    missing = []
    for t in sorted(used):
        key = t.lower()
        if key in index:
            selected.add(key)
        else:
            missing.append(t)
        rtype = key.split('@')[0]
        stable = sorted(v for v in versions.get(rtype, ()) if STABLE.match(v))
        selected.update(f'{rtype}@{v}' for v in stable[-2:])
    types: list = []
    resources = {}
    files = {}
    cache: dict = {}
    for key in sorted(selected):
        rel, pos, entry = index[key]
        if rel not in files:
            files[rel] = json.loads((checkout / rel).read_text())
        data = files[rel]

        def remap(n, rel=rel, data=data):
            if (rel, n) not in cache:
                cache[(rel, n)] = len(types)
                types.append(None)
                types[cache[(rel, n)]] = convert(data[n], remap)
            return cache[(rel, n)]
        resources[key] = {
            'name': entry['name'],
            'body': remap(_ref(entry['body'])),
            'readableScopes': entry.get('readableScopes', entry.get('scopeType', 0)),
            'writableScopes': entry.get('writableScopes', entry.get('scopeType', 0)),
            'readOnly': bool(entry.get('flags', 0) & 1),
            'file': rel,
        }
    if missing:
        raise SystemExit(f"refresh: {', '.join(missing)} not in {checkout} (generated/*/<namespace>/*/types.json): "
                         'is the checkout complete, or does infra/ use an api-version bicep-types-az does not have?')
    return {
        'format': FORMAT,
        'source': dict(source, files=sorted({r['file'] for r in resources.values()})),
        'resources': dict(sorted(resources.items())),
        'versions': {k: sorted(v) for k, v in sorted(versions.items())},
        'types': types,
    }


def git_source(checkout: Path) -> dict:
    out = subprocess.run(['git', '-C', str(checkout), 'log', '-1', '--format=%H%n%cI%n%s'],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    return {'commit': out[0], 'commitDate': out[1], 'subject': out[2]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('checkout', type=Path, help='local checkout of github.com/Azure/bicep-types-az')
    ap.add_argument('--infra', type=Path, default=ROOT / 'infra')
    ap.add_argument('--out', type=Path, default=HERE / 'bicep-types.json')
    ap.add_argument('--commit'); ap.add_argument('--date'); ap.add_argument('--subject')
    args = ap.parse_args(argv)
    if not (args.checkout / 'generated').is_dir():
        sys.exit(f'refresh: {args.checkout} has no generated/ directory: give a checkout of Azure/bicep-types-az')
    source = {'repository': 'https://github.com/Azure/bicep-types-az'}
    if args.commit:
        source.update(commit=args.commit, commitDate=args.date or '', subject=args.subject or '')
    else:
        source.update(git_source(args.checkout))
    source['license'] = 'MIT (Copyright (c) Microsoft Corporation)'
    data = refresh(args.checkout, args.infra, source)
    args.out.write_text(json.dumps(data, indent=None, separators=(',', ':')) + '\n')
    print(f"refresh: {len(data['resources'])} resource type versions, {len(data['types'])} types from "
          f"{source['repository']} @ {source['commit']} -> {args.out}")


if __name__ == '__main__':
    main()

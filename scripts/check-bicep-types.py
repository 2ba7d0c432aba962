#!/usr/bin/env python3
"""Check every resource body in infra/**/*.bicep against Azure's Bicep type definitions.

    .tools/venv-checks/bin/python scripts/check-bicep-types.py <bicep-types.json>

<bicep-types.json> is a vendored subset of github.com/Azure/bicep-types-az in the shape
../shared/fixtures/bicep-types/ uses (resources: "type@api-version" -> body type index; types: the
type table). For each resource that is not `existing`: the type@api-version exists, every
property written exists at that path, literal values fit closed enums, and no read-only property
is written. Expressions (parameters, functions, conditionals) are not evaluated; both branches of
a conditional are checked when they are objects. Needs pycep (scripts/static-checks.sh installs
it into .tools/venv-checks). Not part of static-checks.sh because the types file is not in this
repository.
"""
import json, re, sys
from pathlib import Path
from pycep import BicepParser
if len(sys.argv) != 2:
    sys.exit(__doc__)
d = json.load(open(sys.argv[1]))
T = d['types']; R = d['resources']
problems = []; checked = 0; IDENTS = set()

def check(value, t, path):
    global checked
    o = T[t]; k = o['$type']
    if isinstance(value, dict) and 'operator' in value:
        op = value['operator']
        if isinstance(op, dict) and op.get('type') == 'conditional':
            ops = op['operands']
            for key in ('true_value', 'false_value'):
                if key in ops: check(ops[key], t, path + f'<{key}>')
        return
    if isinstance(value, dict):
        value = {(key[1:-1] if isinstance(key, str) and key.startswith("'") else key): v for key, v in value.items()}
        if '.' not in path.split(':', 1)[-1] or path.endswith('>'):
            value = {key: v for key, v in value.items() if key not in ('parent', 'scope', 'dependsOn')}
    if k == 'ObjectType':
        if not isinstance(value, dict): return
        props = o.get('properties', {})
        for key, v in value.items():
            if key in props:
                checked += 1
                if props[key].get('flags', 0) & 2 and not props[key].get('flags', 0) & 1:
                    problems.append(f'{path}.{key}: read-only')
                check(v, props[key]['type'], f'{path}.{key}')
            elif 'additionalProperties' in o:
                check(v, o['additionalProperties'], f'{path}.{key}')
            else:
                problems.append(f'{path}.{key}: no such property (has {sorted(props)})')
    elif k == 'DiscriminatedObjectType':
        if not isinstance(value, dict): return
        disc = value.get(o['discriminator'])
        if disc not in o['elements']:
            problems.append(f'{path}: discriminator {disc!r} not in {list(o["elements"])}'); return
        merged = dict(o.get('baseProperties', {}))
        el = T[o['elements'][disc]]
        merged.update(el.get('properties', {}))
        for key, v in value.items():
            if key in merged:
                checked += 1
                check(v, merged[key]['type'], f'{path}.{key}')
            elif 'additionalProperties' in el:
                pass
            else:
                problems.append(f'{path}.{key}: no such property')
    elif k == 'ArrayType':
        if isinstance(value, list):
            for i, v in enumerate(value): check(v, o['itemType'], f'{path}[{i}]')
    elif k == 'UnionType':
        lits = [T[e]['value'] for e in o['elements'] if T[e]['$type'] == 'StringLiteralType']
        open_str = any(T[e]['$type'] == 'StringType' for e in o['elements'])
        objs = [e for e in o['elements'] if T[e]['$type'] in ('ObjectType',)]
        # pycep gives literals and identifiers alike as plain strings: skip the file's params/vars.
        if isinstance(value, str) and lits and not open_str and value not in lits and value not in IDENTS:
            problems.append(f'{path}: {value!r} not in {lits}')
        if isinstance(value, dict) and objs:
            check(value, objs[0], path)

files = sorted(Path('infra').rglob('*.bicep'))
for f in files:
    tree = BicepParser().parse(file_path=f)
    IDENTS = set(re.findall(r'^(?:param|var)\s+(\w+)', f.read_text(), re.M))
    for name, res in tree.get('resources', {}).items():
        key = f"{res['type']}@{res['api_version']}".lower()
        if key not in R:
            problems.append(f'{f}:{name}: {key} not in the vendored types'); continue
        if res.get('existing'): continue
        cfg = res['config']
        while isinstance(cfg, dict) and 'config' in cfg and ('loop_type' in cfg or 'condition' in cfg):
            cfg = cfg['config']
        body = R[key]['body']
        check(cfg, body, f'{f.name}:{name}')
print(f'{checked} property uses checked in {len(files)} files')
for p in problems: print('  PROBLEM', p)
sys.exit(1 if problems else 0)

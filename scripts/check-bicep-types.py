#!/usr/bin/env python3
"""Check infra/ against Azure's own resource types, Flex Consumption's rules and Azure's naming rules.

    python3 scripts/check-bicep-types.py [--infra DIR] [--types FILE]

No Bicep compiler or Azure access is needed (standard library only; scripts/bicep_lite.py reads
the Bicep). scripts/static-checks.sh runs it; scripts/tests/test_check_bicep_types.py plants one
error of each kind and fails if it is not reported. Every problem is printed as
`PROBLEM [kind] where: what`, and the exit status is 1 if there is any. The kinds:

  type-version   a resource type@api-version that Azure's Bicep types do not have
  property       a property written at a path the type does not have
  enum           a literal (or a value a parameter's @allowed list, a variable or either branch
                 of a condition can take) outside a closed enum or string literal type
  value          a literal of the wrong kind (string for a bool…) or outside the type's
                 length/range/pattern
  required       a required property missing from an object literal
  read-only      a read-only property written
  module-params  a module given a parameter it does not declare, a value outside its @allowed
                 list, or not given one without a default
  params-file    a parameters file naming a parameter main.bicep lacks, missing one without a
                 default, or giving a value of the wrong type, outside @allowed or the bounds
  flex           a site property or app setting Flex Consumption does not support (FLEX_*)
  name           a resource or deployment name that breaks Azure's naming rules (NAME_RULES)
                 for some allowed input, two instances of a loop given the same name, or a
                 name the checker cannot evaluate

The types are the vendored subset of github.com/Azure/bicep-types-az in scripts/bicep-types/
(SOURCES.md; refresh with scripts/bicep-types/refresh.py). What this cannot see is listed in
docs/deploy.md, "What is verified without a deployment".
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bicep_lite as bl  # noqa: E402
from bicep_lite import Unknown, literal  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BICEP_ONLY_KEYS = {'parent', 'scope', 'dependsOn'}  # resource body keys that are Bicep's, not ARM's
REQUIRED, READ_ONLY = 1, 2

# ---------------------------------------------------------------------------------------------
# Flex Consumption: site properties and app settings it does not support. Source: Microsoft,
# "App settings reference for Azure Functions", section "Flex Consumption plan deprecations"
# https://learn.microsoft.com/azure/azure-functions/functions-app-settings#flex-consumption-plan-deprecations
# (page dated 2025-12-22). The table's `properties.X` rows are site properties or siteConfig
# properties (`ftpsState`, `alwaysOn`, `linuxFxVersion` … live in siteConfig): both places are
# checked. ARM rejects some outright (ftpsState: error 51021 "Site.SiteConfig.FtpsState … is
# invalid" in some regions); the rest are ignored or replaced by functionAppConfig.
FLEX_DOC = 'https://learn.microsoft.com/azure/azure-functions/functions-app-settings#flex-consumption-plan-deprecations'
FLEX_SETTINGS = {
    'ENABLE_ORYX_BUILD': 'replaced by the remoteBuild deployment parameter',
    'FUNCTIONS_EXTENSION_VERSION': 'set by the backend',
    'FUNCTIONS_WORKER_RUNTIME': 'replaced by functionAppConfig.runtime.name',
    'FUNCTIONS_WORKER_RUNTIME_VERSION': 'replaced by functionAppConfig.runtime.version',
    'FUNCTIONS_MAX_HTTP_CONCURRENCY': "replaced by scaleAndConcurrency's trigger section",
    'FUNCTIONS_WORKER_PROCESS_COUNT': 'not valid',
    'FUNCTIONS_WORKER_DYNAMIC_CONCURRENCY_ENABLED': 'not valid',
    'SCM_DO_BUILD_DURING_DEPLOYMENT': 'replaced by the remoteBuild deployment parameter',
    'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING': "replaced by functionAppConfig's deployment section",
    'WEBSITE_CONTENTOVERVNET': 'not used for networking in Flex Consumption',
    'WEBSITE_CONTENTSHARE': "replaced by functionAppConfig's deployment section",
    'WEBSITE_DNS_SERVER': 'DNS is inherited from the integrated virtual network',
    'WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT': 'replaced by functionAppConfig.scaleAndConcurrency.maximumInstanceCount',
    'WEBSITE_NODE_DEFAULT_VERSION': 'replaced by functionAppConfig.runtime.version',
    'WEBSITE_RUN_FROM_PACKAGE': 'not used for deployments in Flex Consumption',
    'WEBSITE_SKIP_CONTENTSHARE_VALIDATION': "content share isn't used in Flex Consumption",
    'WEBSITE_VNET_ROUTE_ALL': 'not used for networking in Flex Consumption',
}
FLEX_PROPERTIES = {
    'alwaysOn': 'not valid',
    'containerSize': 'renamed instanceMemoryMB (functionAppConfig.scaleAndConcurrency)',
    'dnsConfiguration': 'custom DNS servers of the virtual network are used automatically',
    'ftpsState': 'FTPS not supported (ARM error 51021 in some regions)',
    'isReserved': 'not valid', 'IsXenon': 'not valid',
    'javaVersion': 'replaced by functionAppConfig.runtime.version',
    'linuxFxVersion': 'replaced by functionAppConfig.runtime',
    'netFrameworkVersion': 'replaced by functionAppConfig.runtime.version',
    'powerShellVersion': 'replaced by functionAppConfig.runtime.version',
    'functionAppScaleLimit': 'renamed maximumInstanceCount (functionAppConfig.scaleAndConcurrency)',
    'preWarmedInstanceCount': 'renamed alwaysReadyInstances (functionAppConfig.scaleAndConcurrency)',
    'use32BitWorkerProcess': '32-bit not supported',
    'vnetBackupRestoreEnabled': 'not used for networking in Flex Consumption',
    'vnetContentShareEnabled': 'not used for networking in Flex Consumption',
    'vnetImagePullEnabled': 'not used for networking in Flex Consumption',
    'vnetRouteAllEnabled': 'not used for networking in Flex Consumption',
    'windowsFxVersion': 'not valid',
}

# ---------------------------------------------------------------------------------------------
# Naming rules for every resource type infra/ creates. Source unless noted: Microsoft, "Naming
# rules and restrictions for Azure resources"
# https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules
# (MicrosoftDocs/azure-docs articles/azure-resource-manager/management/resource-name-rules.md,
# 2025-03-14). A name pattern in the vendored Bicep types, where the type has one, is checked too.
# Where the page allows more (Unicode for sites) the rule here is the stricter ASCII subset.
NAME_DOC = 'https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules'
_ALNUM_HYPHEN_INNER = r'[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?'
_NET = r'[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?'
_GUID = r'[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}'
NAME_RULES = {
    # type (lower case): (min, max, full-match regex, what it says)
    'microsoft.resources/resourcegroups': (1, 90, r'[-\w.()]*[-\w()]', 'letters, digits, _ - . ( ); not ending in a period'),
    'microsoft.resources/deployments': (1, 64, r'[-\w.()]+', 'alphanumerics, _ ( ) - .'),
    'microsoft.managedidentity/userassignedidentities': (3, 128, r'[A-Za-z0-9][A-Za-z0-9_-]*', 'alphanumerics, - _; starting with a letter or digit'),
    'microsoft.operationalinsights/workspaces': (4, 63, _ALNUM_HYPHEN_INNER, 'alphanumerics and -; starting and ending alphanumeric'),
    'microsoft.insights/components': (1, 260, r'[^%&\\?/\x00-\x1f]*[^%&\\?/\x00-\x1f. ]', "no % & \\ ? / or control characters; not ending in space or period"),
    'microsoft.insights/actiongroups': (1, 260, r'[^:<>+/&%\\?|\x00-\x1f]*[^:<>+/&%\\?|\x00-\x1f. ]', 'no : < > + / & % \\ ? | or control characters; not ending in space or period'),
    'microsoft.insights/scheduledqueryrules': (1, 260, r'[^*<>%{}&:\\?/#|\x00-\x1f]*[^*<>%{}&:\\?/#|\x00-\x1f. ]', 'no * < > % { } & : \\ ? / # | or control characters; not ending in space or period'),
    'microsoft.insights/metricalerts': (1, 260, r'[^*#&+:<>?@%{}\\/|\x00-\x1f]*[^*#&+:<>?@%{}\\/|\x00-\x1f. ]', 'no * # & + : < > ? @ % { } \\ / | or control characters; not ending in space or period'),
    'microsoft.authorization/roleassignments': (36, 36, _GUID, 'a GUID'),
    'microsoft.authorization/roledefinitions': (36, 36, _GUID, 'a GUID'),
    'microsoft.storage/storageaccounts': (3, 24, r'[a-z0-9]+', 'lower-case letters and digits'),
    'microsoft.storage/storageaccounts/blobservices': (7, 7, 'default', "'default'"),
    'microsoft.storage/storageaccounts/queueservices': (7, 7, 'default', "'default'"),
    'microsoft.storage/storageaccounts/blobservices/containers': (3, 63, r'[a-z0-9](?:[a-z0-9]|-(?!-))*[a-z0-9]', 'lower-case letters, digits, single hyphens; starting and ending with a letter or digit'),
    'microsoft.storage/storageaccounts/queueservices/queues': (3, 63, r'[a-z0-9](?:[a-z0-9]|-(?!-))*[a-z0-9]', 'lower-case letters, digits, single hyphens; not starting or ending with a hyphen'),
    'microsoft.keyvault/vaults': (3, 24, r'[A-Za-z](?:[A-Za-z0-9]|-(?!-))*[A-Za-z0-9]', 'alphanumerics and single hyphens; starting with a letter, ending with a letter or digit'),
    'microsoft.network/virtualnetworks': (2, 64, _NET, 'alphanumerics, _ . -; starting alphanumeric, ending alphanumeric or _'),
    'microsoft.network/networksecuritygroups': (1, 80, _NET, 'alphanumerics, _ . -; starting alphanumeric, ending alphanumeric or _'),
    'microsoft.network/privateendpoints': (2, 64, _NET, 'alphanumerics, _ . -; starting alphanumeric, ending alphanumeric or _'),
    'microsoft.network/privateendpoints/privatednszonegroups': (1, 80, _NET, 'alphanumerics, _ . - (as other network child resources)'),
    'microsoft.network/privatednszones': (1, 63, r'(?:[A-Za-z0-9_-]+\.){1,33}[A-Za-z0-9_-]+', '2 to 34 labels of alphanumerics, _ and -'),
    'microsoft.network/privatednszones/virtualnetworklinks': (1, 80, _NET, 'alphanumerics, _ . -; starting alphanumeric, ending alphanumeric or _'),
    'microsoft.web/serverfarms': (1, 60, r'[A-Za-z0-9-]+', 'alphanumerics and - (ASCII)'),
    'microsoft.web/sites': (2, 60, _ALNUM_HYPHEN_INNER, 'alphanumerics and -; not starting or ending with -'),
    'microsoft.web/sites/config': (1, 64, r'appsettings|web|logs|authsettingsV2|connectionstrings|metadata', 'a config name'),
    'microsoft.web/sites/basicpublishingcredentialspolicies': (3, 3, r'ftp|scm', "'ftp' or 'scm'"),
    # Event Grid: the page lists topics/domains as 3-50 alphanumerics and hyphens and has no
    # systemTopics row; PSRule for Azure (Azure.EventGrid.SystemTopicNaming) gives 3-50 too, some
    # templates 3-128. The stricter 3-50 is used, starting and ending alphanumeric.
    'microsoft.eventgrid/systemtopics': (3, 50, _ALNUM_HYPHEN_INNER, 'alphanumerics and -, 3-50 (the stricter of the published limits)'),
    'microsoft.eventgrid/systemtopics/eventsubscriptions': (3, 64, r'[A-Za-z0-9-]+', 'alphanumerics and -'),
}

# The inputs main.bicep's names are built from, and the values the name check tries for each:
# the extremes of what each parameter allows (its decorators and documented alphabet) and, for
# clusters, names that are valid for AKS but awkward for other resource types.
AKS_NAME = re.compile(r'^[a-zA-Z0-9]$|^[a-zA-Z0-9][-_a-zA-Z0-9]{0,61}[a-zA-Z0-9]$')  # managedClusters name in the types
AWKWARD_CLUSTER_NAMES = [
    'a', '0', 'A1', 'aks', 'my_cluster', 'my-cluster', 'My_Cluster_2', 'MixedCase-Cluster',
    '1st-cluster', '9_9', 'aks-prod-westeurope-01', 'x' * 38, 'y' * 39,
    'a' + '_' * 61 + 'b', 'Z' * 63, ('ab_' * 21)[:62] + 'c', 'a-' * 31 + 'b',
]
# main.bicep's `name`: @minLength/@maxLength decorators, and its description's "lowercase letters
# and digits" (a Bicep decorator cannot restrict characters).
NAME_PARAM_ALPHABET = ('a', '0')
SUBSCRIPTION = '00000000-0000-4000-8000-000000000001'
EXTRA_SUBSCRIPTIONS = ['11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222']


def cluster_id(name, rg='rg-clusters', sub=SUBSCRIPTION):
    return f'/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{name}'


class Checker:
    def __init__(self, infra: Path, types: dict):
        self.infra = infra
        self.T = types['types']
        self.R = types['resources']
        self.problems: list[str] = []
        self._seen_problems = set()
        self.checked = 0
        self.names_checked = 0

    def problem(self, kind, where, what, scenario=''):
        """Record a problem once (the name check finds the same one in several scenarios)."""
        key = (kind, where, what)
        if key not in self._seen_problems:
            self._seen_problems.add(key)
            self.problems.append(f'[{kind}] {where}: {what}' + (f' (with {scenario})' if scenario else ''))

    # -----------------------------------------------------------------------------------------
    # Resource bodies against the types

    def check_types(self, f: bl.File):
        self.file = f
        for d in f.of('resource'):
            key = d.type.lower()
            if key not in self.R:
                versions = sorted(self.versions(key.split('@')[0]))
                self.problem('type-version', f'{f.path.name}:{d.line} {d.name}',
                             f"{d.type} is not in Azure's Bicep types (api-versions known: {', '.join(versions) or 'none: unknown type'})")
                continue
            if d.existing:
                continue
            body = d.value
            while body[0] in ('for', 'if'):
                body = body[4] if body[0] == 'for' else body[2]
            self.check(body, self.R[key]['body'], f'{f.path.name}:{d.line} {d.name}', top=True, seen=set())
        for d in f.of('module'):
            self.check_module_call(f, d)

    def versions(self, rtype):
        return set(self.types_versions.get(rtype, [])) if hasattr(self, 'types_versions') else set()

    def resolve_values(self, node, seen):
        """Literal values an identifier can take in this file: a parameter's @allowed list, a
        variable's value (literals, both branches of conditions). None if unknown."""
        if node[0] == 'id':
            name = node[1]
            if name in seen:
                return None
            p = self.file.get('param', name)
            if p is not None:
                allowed = p.decorators.get('allowed')
                if allowed and allowed[0][0] == 'arr':
                    return [self.lit_value(x) for x in allowed[0][1]]
                return None
            v = self.file.get('var', name)
            if v is not None:
                return self.resolve_values(v.value, seen | {name})
            return None
        if node[0] == 'cond':
            a = self.resolve_values(node[2], seen)
            b = self.resolve_values(node[3], seen)
            return None if a is None or b is None else a + b
        val = self.lit_value(node)
        return None if val is _NOLIT else [val]

    @staticmethod
    def lit_value(node):
        if node[0] == 'str':
            s = literal(node)
            return _NOLIT if s is None else s
        if node[0] in ('num', 'bool'):
            return node[1]
        if node[0] == 'un' and node[1] == '-' and node[2][0] == 'num':
            return -node[2][1]
        if node[0] == 'null':
            return None
        return _NOLIT

    def check(self, node, t, path, top=False, seen=frozenset()):
        o = self.T[t]
        k = o['$type']
        tag = node[0]
        if tag == 'cond':
            self.check(node[2], t, path + '<true>', seen=seen)
            self.check(node[3], t, path + '<false>', seen=seen)
            return
        if tag == 'id':
            name = node[1]
            v = self.file.get('var', name)
            if v is not None and name not in seen:
                self.check(v.value, t, f'{path}(var {name})', seen=seen | {name})
                return
            p = self.file.get('param', name)
            if p is not None:
                allowed = p.decorators.get('allowed')
                if allowed and allowed[0][0] == 'arr':
                    for x in allowed[0][1]:
                        self.check(x, t, f'{path}(@allowed of {name})', seen=seen)
                elif self.closed_strings(t) is not None:
                    self.problem('enum', path, f"parameter {name} is free text but the property takes only {self.closed_strings(t)}: give it @allowed([...])")
            return
        if tag in ('for',):
            if k == 'ArrayType':
                body = node[4][2] if node[4][0] == 'if' else node[4]
                self.check(body, o['itemType'], path + '[]', seen=seen)
            return
        if k == 'ObjectType':
            if tag != 'obj':
                self.wrong_kind(node, 'an object', path)
                return
            props = o.get('properties', {})
            lower = {name.lower(): name for name in props}
            written = set()
            for key, v in node[1]:
                if not isinstance(key, str):
                    if 'additionalProperties' in o:
                        self.check(v, o['additionalProperties'], f'{path}.<key>', seen=seen)
                    continue
                if top and key in BICEP_ONLY_KEYS:
                    continue
                name = key if key in props else lower.get(key.lower())
                if name is not None:
                    self.checked += 1
                    written.add(name)
                    flags = props[name].get('flags', 0)
                    if flags & READ_ONLY and not flags & REQUIRED:
                        self.problem('read-only', f'{path}.{key}', 'read-only: Azure sets it, a template cannot')
                    self.check(v, props[name]['type'], f'{path}.{key}', seen=seen)
                elif 'additionalProperties' in o:
                    self.check(v, o['additionalProperties'], f'{path}.{key}', seen=seen)
                else:
                    self.problem('property', f'{path}.{key}', f"no such property (has {', '.join(sorted(props))})")
            for name, prop in props.items():
                flags = prop.get('flags', 0)
                if flags & REQUIRED and not flags & READ_ONLY and name not in written:
                    self.problem('required', path, f'required property {name} missing')
        elif k == 'DiscriminatedObjectType':
            if tag != 'obj':
                return
            keys = {key: v for key, v in node[1] if isinstance(key, str)}
            disc_node = keys.get(o['discriminator'])
            discs = self.resolve_values(disc_node, set()) if disc_node else None
            if disc_node is None:
                self.problem('required', path, f"required property {o['discriminator']} missing")
                return
            if discs is None:
                return
            for disc in discs:
                if disc not in o['elements']:
                    self.problem('enum', f"{path}.{o['discriminator']}", f"{disc!r} not in {sorted(o['elements'])}")
                    continue
                merged = dict(o.get('baseProperties', {}))
                el = self.T[o['elements'][disc]]
                merged.update(el.get('properties', {}))
                synthetic = {'$type': 'ObjectType', 'properties': merged}
                if 'additionalProperties' in el:
                    synthetic['additionalProperties'] = el['additionalProperties']
                self.T.append(synthetic)
                self.check(node, len(self.T) - 1, f'{path}<{disc}>', top=top, seen=seen)
                self.T.pop()
        elif k == 'ArrayType':
            if tag == 'arr':
                for i, v in enumerate(node[1]):
                    self.check(v, o['itemType'], f'{path}[{i}]', seen=seen)
                if 'minLength' in o and len(node[1]) < o['minLength']:
                    self.problem('value', path, f"at least {o['minLength']} items")
                if 'maxLength' in o and len(node[1]) > o['maxLength']:
                    self.problem('value', path, f"at most {o['maxLength']} items")
            else:
                self.wrong_kind(node, 'an array', path)
        elif k == 'UnionType':
            closed = self.closed_strings(t)
            objs = [e for e in o['elements'] if self.T[e]['$type'] in ('ObjectType', 'DiscriminatedObjectType')]
            if tag == 'obj' and objs:
                self.check(node, objs[0], path, seen=seen)
            elif tag == 'str' and literal(node) is not None and closed is not None and literal(node) not in closed:
                self.problem('enum', path, f'{literal(node)!r} not in {closed}')
        elif k == 'StringLiteralType':
            if tag == 'str' and literal(node) is not None and literal(node) != o['value']:
                self.problem('enum', path, f"{literal(node)!r} is not {o['value']!r}")
            elif tag in ('num', 'bool', 'obj', 'arr'):
                self.wrong_kind(node, 'a string', path)
        elif k == 'StringType':
            s = literal(node) if tag == 'str' else None
            if tag in ('num', 'bool', 'obj', 'arr'):
                self.wrong_kind(node, 'a string', path)
            elif s is not None:
                if len(s) < o.get('minLength', 0) or len(s) > o.get('maxLength', 1 << 30):
                    self.problem('value', path, f"{s!r}: length {len(s)} outside {o.get('minLength', 0)}..{o.get('maxLength', '')}")
                if 'pattern' in o and not re.search(o['pattern'], s):
                    self.problem('value', path, f"{s!r} does not match {o['pattern']}")
        elif k == 'IntegerType':
            if tag in ('str', 'bool', 'obj', 'arr'):
                self.wrong_kind(node, 'an integer', path)
            elif tag == 'num' or (tag == 'un' and node[2][0] == 'num'):
                n = self.lit_value(node)
                if n < o.get('minValue', -(1 << 63)) or n > o.get('maxValue', 1 << 63):
                    self.problem('value', path, f"{n} outside {o.get('minValue', '')}..{o.get('maxValue', '')}")
        elif k == 'BooleanType':
            if tag in ('str', 'num', 'obj', 'arr'):
                self.wrong_kind(node, 'a bool', path)

    def wrong_kind(self, node, want, path):
        if node[0] in ('str', 'num', 'bool', 'obj', 'arr'):
            if node[0] == 'str' and literal(node) is None and want == 'a string':
                return
            self.problem('value', path, f'{want} expected, the template writes a{"n" if node[0] in ("obj", "arr") else ""} {dict(str="string", num="number", bool="bool", obj="object", arr="array")[node[0]]}')

    def closed_strings(self, t):
        """The string values a type accepts if it is a closed set of literals, else None."""
        o = self.T[t]
        if o['$type'] == 'StringLiteralType':
            return [o['value']]
        if o['$type'] == 'UnionType':
            lits = []
            for e in o['elements']:
                et = self.T[e]
                if et['$type'] == 'StringLiteralType':
                    lits.append(et['value'])
                elif et['$type'] in ('StringType', 'AnyType'):
                    return None
            return lits or None
        return None

    def check_module_call(self, f, d):
        target = (f.path.parent / d.type)
        if not target.exists():
            self.problem('module-params', f'{f.path.name}:{d.line} {d.name}', f'module file {d.type} not found')
            return
        m = bl.parse_file(target)
        body = d.value
        while body[0] in ('for', 'if'):
            body = body[4] if body[0] == 'for' else body[2]
        params = dict((k, v) for k, v in body[1]).get('params', ('obj', [])) if body[0] == 'obj' else ('obj', [])
        given = {k: v for k, v in params[1] if isinstance(k, str)} if params[0] == 'obj' else {}
        declared = {p.name: p for p in m.of('param')}
        where = f'{f.path.name}:{d.line} {d.name}'
        for k, v in given.items():
            if k not in declared:
                self.problem('module-params', where, f'{d.type} has no parameter {k}')
                continue
            allowed = declared[k].decorators.get('allowed')
            vals = self.resolve_values(v, set())
            if allowed and vals is not None:
                ok = [self.lit_value(x) for x in allowed[0][1]]
                for val in vals:
                    if val not in ok:
                        self.problem('module-params', f'{where}.{k}', f'{val!r} not in @allowed {ok}')
        for name, p in declared.items():
            if p.value is None and name not in given:
                self.problem('module-params', where, f'parameter {name} of {d.type} has no default and is not given')

    # -----------------------------------------------------------------------------------------
    # Parameters files against main.bicep

    def check_params_file(self, main: bl.File, pf: Path):
        where = pf.name
        try:
            params = json.loads(pf.read_text())['parameters']
        except (ValueError, KeyError) as e:
            self.problem('params-file', where, f'not a deployment parameters file: {e}')
            return
        declared = {p.name: p for p in main.of('param')}
        kinds = {'string': str, 'int': int, 'bool': bool, 'array': list, 'object': dict, 'secureString': str, 'secureObject': dict}
        ev = bl.Evaluator()
        for name, entry in params.items():
            if name not in declared:
                self.problem('params-file', f'{where} {name}', f'{main.path.name} has no parameter {name}')
                continue
            if 'value' not in entry:
                continue  # a Key Vault reference
            value = entry['value']
            p = declared[name]
            want = kinds.get(p.type)
            if want and (not isinstance(value, want) or (want is int and isinstance(value, bool))):
                self.problem('params-file', f'{where} {name}', f'should be {p.type}, is {value!r}')
                continue
            dec = {k: [ev.eval(a, {})[0] for a in args] for k, args in p.decorators.items() if k != 'description'}
            if 'allowed' in dec and value not in dec['allowed'][0]:
                self.problem('params-file', f'{where} {name}', f'{value!r} not in @allowed {dec["allowed"][0]}')
            if 'minLength' in dec and len(value) < dec['minLength'][0]:
                self.problem('params-file', f'{where} {name}', f'shorter than @minLength({dec["minLength"][0]})')
            if 'maxLength' in dec and len(value) > dec['maxLength'][0]:
                self.problem('params-file', f'{where} {name}', f'longer than @maxLength({dec["maxLength"][0]})')
            if 'minValue' in dec and value < dec['minValue'][0]:
                self.problem('params-file', f'{where} {name}', f'below @minValue({dec["minValue"][0]})')
            if 'maxValue' in dec and value > dec['maxValue'][0]:
                self.problem('params-file', f'{where} {name}', f'above @maxValue({dec["maxValue"][0]})')
        for name, p in declared.items():
            if p.value is None and name not in params:
                self.problem('params-file', where, f'parameter {name} has no default in {main.path.name} and is missing')

    # -----------------------------------------------------------------------------------------
    # Flex Consumption

    def check_flex(self, files, param_files):
        flex_sites = []
        for f in files:
            for d in f.of('resource'):
                if d.type.lower().startswith('microsoft.web/sites@') and not d.existing:
                    body = _unwrap(d.value)
                    props = _obj_get(body, 'properties')
                    if props is not None and props[0] == 'obj' and _obj_get(props, 'functionAppConfig') is not None:
                        flex_sites.append((f, d, props))
        if not flex_sites:
            return
        lower_props = {k.lower(): (k, why) for k, why in FLEX_PROPERTIES.items()}
        for f, d, props in flex_sites:
            where = f'{f.path.name}:{d.line} {d.name}'
            places = [('properties', props)]
            sc = _obj_get(props, 'siteConfig')
            if sc is not None and sc[0] == 'obj':
                places.append(('properties.siteConfig', sc))
                app_settings = _obj_get(sc, 'appSettings')
                if app_settings is not None and app_settings[0] == 'arr':
                    for item in app_settings[1]:
                        n = _obj_get(item, 'name') if item[0] == 'obj' else None
                        if n is not None and literal(n) and literal(n).upper() in FLEX_SETTINGS:
                            self.problem('flex', f'{where} siteConfig.appSettings', f"{literal(n)}: {FLEX_SETTINGS[literal(n).upper()]} ({FLEX_DOC})")
            for label, o in places:
                for key, _ in o[1]:
                    if isinstance(key, str) and key.lower() in lower_props:
                        name, why = lower_props[key.lower()]
                        self.problem('flex', f'{where} {label}.{key}', f'Flex Consumption: {why} ({FLEX_DOC})')
        # App settings: an object key (anywhere in infra/: app settings are assembled in vars and
        # module parameters) or a parameters file key named like a setting Flex does not support.
        for f in files:
            for line_no, key in _object_keys(f):
                if key.upper() in FLEX_SETTINGS:
                    self.problem('flex', f'{f.path.name}:{line_no}', f"app setting {key}: Flex Consumption: {FLEX_SETTINGS[key.upper()]} ({FLEX_DOC})")
        for pf in param_files:
            try:
                data = json.loads(pf.read_text())
            except ValueError:
                continue
            for key in _json_keys(data):
                if key.upper() in FLEX_SETTINGS:
                    self.problem('flex', pf.name, f"app setting {key}: Flex Consumption: {FLEX_SETTINGS[key.upper()]} ({FLEX_DOC})")

    # -----------------------------------------------------------------------------------------
    # Names

    def name_scenarios(self, main: bl.File, param_files):
        """(label, {param: [values]}) for main.bicep: each extreme of `name`, and every parameters
        file as written."""
        params = {p.name: p for p in main.of('param')}
        ev = bl.Evaluator()

        def dec(p, k, default):
            args = p.decorators.get(k)
            return ev.eval(args[0], {})[0] if args else default
        base = {}
        for name, p in params.items():
            if p.type == 'bool':
                base[name] = [True, False]
        if 'clusterIds' in params:
            ids = [cluster_id(n) for n in AWKWARD_CLUSTER_NAMES]
            base['clusterIds'] = [ids]
        if 'extraSubscriptionIds' in params:
            base['extraSubscriptionIds'] = [EXTRA_SUBSCRIPTIONS]
        scenarios = []
        if 'name' in params:
            p = params['name']
            lo, hi = dec(p, 'minLength', 1), dec(p, 'maxLength', 24)
            letter, digit = NAME_PARAM_ALPHABET
            samples = [letter * lo, letter * hi, digit * lo, digit * hi, (digit + letter) * (hi // 2), 'cadence'[:hi]]
            for sample in dict.fromkeys(samples):
                if lo <= len(sample) <= hi:
                    scenarios.append((f'name={sample!r}', dict(base, name=[sample])))
        else:
            scenarios.append(('defaults', dict(base)))
        for pf in param_files:
            try:
                values = {k: [v['value']] for k, v in json.loads(pf.read_text())['parameters'].items() if 'value' in v}
            except (ValueError, KeyError):
                continue
            scenarios.append((pf.name, dict(base, **values)))
        return scenarios

    def check_names(self, main: bl.File, param_files):
        for label, env in self.name_scenarios(main, param_files):
            seen = {}  # (file, symbol) -> [(instance label, {names})]
            Instance(self, main, env, {'subscription': SUBSCRIPTION, 'dir': main.path.parent}, label, seen).walk()
            for (fname, sym, rtype), instances in seen.items():
                for i in range(len(instances)):
                    for j in range(i + 1, len(instances)):
                        common = instances[i][1] & instances[j][1]
                        if common:
                            self.problem('name', f'{fname} {sym}', f'{instances[i][0]} and {instances[j][0]} are both named {sorted(common)[0]!r}: names must be unique', label)

    def check_name_value(self, rtype, value, where, label):
        rule = NAME_RULES.get(rtype)
        if isinstance(value, Unknown):
            self.problem('name', where, f'cannot evaluate the name ({value.why}); names must follow from parameters', label)
            return
        if not isinstance(value, str):
            self.problem('name', where, f'name is not a string: {value!r}', label)
            return
        if rule is None:
            self.problem('name', where, f'no naming rule for {rtype}: add one to NAME_RULES with its source')
            return
        self.names_checked += 1
        lo, hi, pattern, what = rule
        if not (lo <= len(value) <= hi) or not re.fullmatch(pattern, value):
            self.problem('name', where, f'{value!r} ({len(value)} characters) breaks the rule for {rtype}: {lo}-{hi} characters, {what} ({NAME_DOC})', label)
        key = next((k for k in self.R if k.split('@')[0] == rtype), None)
        if key:
            body = self.T[self.R[key]['body']]
            prop = body.get('properties', body.get('baseProperties', {})).get('name')
            nt = self.T[prop['type']] if prop else {'$type': None}
            if nt['$type'] == 'StringType' and 'pattern' in nt and not re.search(nt['pattern'], value):
                self.problem('name', where, f"{value!r} does not match the types' name pattern {nt['pattern']} ({label})")


_NOLIT = object()


def _unwrap(body):
    while body[0] in ('for', 'if'):
        body = body[4] if body[0] == 'for' else body[2]
    return body


def _obj_get(node, key):
    if node is None or node[0] != 'obj':
        return None
    for k, v in node[1]:
        if isinstance(k, str) and k == key:
            return v
    return None


def _object_keys(f: bl.File):
    out = []

    def walk(node, line):
        if isinstance(node, tuple):
            if node and node[0] == 'obj':
                for k, v in node[1]:
                    if isinstance(k, str):
                        out.append((line, k))
                    walk(v, line)
                return
            for x in node[1:]:
                if isinstance(x, (tuple, list)):
                    walk(x, line)
        elif isinstance(node, list):
            for x in node:
                walk(x, line)
    for d in f.decls:
        if d.value is not None:
            walk(d.value, d.line)
    return out


def _json_keys(data):
    if isinstance(data, dict):
        for k, v in data.items():
            yield k
            yield from _json_keys(v)
    elif isinstance(data, list):
        for v in data:
            yield from _json_keys(v)


class Instance:
    """One deployment of a Bicep file with given parameter values: evaluates the names of every
    resource and module it creates, recursing into modules with the parameters they are given."""

    def __init__(self, checker, f: bl.File, params_env, ctx, label, seen, depth=0):
        self.c = checker; self.f = f; self.ctx = ctx; self.label = label; self.seen = seen; self.depth = depth
        self.env = {}
        for p in f.of('param'):
            if p.name in params_env:
                self.env[p.name] = params_env[p.name]
            elif p.value is not None:
                self.env[p.name] = None  # default, evaluated lazily
            else:
                self.env[p.name] = [Unknown(p.name)]
        self.vars = {}
        self.modules = {}
        self.ev = bl.Evaluator(ctx, self.resolve)

    def resolve(self, name):
        if self.env.get(name, 0) is None:
            self.env[name] = self.ev.eval(self.f.get('param', name).value, {})
            return self.env[name]
        if name in self.env:
            return self.env[name]
        if name in self.vars:
            return self.vars[name]
        v = self.f.get('var', name)
        if v is not None:
            self.vars[name] = [Unknown(f'{name} (cycle)')]
            self.vars[name] = self.ev.eval(v.value, {})
            return self.vars[name]
        r = self.f.get('resource', name)
        if r is not None:
            return [bl.ResourceRef(name, lambda m, r=r: self.resource_member(r, m, None), lambda i, r=r: [bl.ResourceRef(f'{name}[{i}]', lambda m: self.resource_member(r, m, i))])]
        m = self.f.get('module', name)
        if m is not None:
            return [bl.ResourceRef(name, lambda mem, m=m: self.module_member(m, mem))]
        return [Unknown(name)]

    def resource_member(self, r, member, index):
        if member == 'name' and index is None and r.value[0] != 'for':
            name = _obj_get(_unwrap(r.value), 'name')
            return self.ev.eval(name, {}) if name is not None else [Unknown(f'{r.name}.name')]
        return [Unknown(f'{r.name}.{member}')]

    def module_member(self, m, member):
        if member != 'outputs':
            return [Unknown(f'{m.name}.{member}')]
        inst = self.module_instance(m)
        if inst is None:
            return [Unknown(f'{m.name}.outputs')]

        def output(name):
            o = inst.f.get('output', name)
            return inst.ev.eval(o.value, {}) if o is not None else [Unknown(f'{m.name}.outputs.{name}')]
        return [bl.ResourceRef(f'{m.name}.outputs', output)]

    def module_instance(self, m, env_extra=None, key=None):
        key = key or m.name
        if key in self.modules and env_extra is None:
            return self.modules[key]
        target = self.f.path.parent / m.type
        if not target.exists() or self.depth > 5:
            return None
        body = m.value
        env = dict(env_extra or {})
        while body[0] in ('for', 'if'):
            body = body[4] if body[0] == 'for' else body[2]
        params = _obj_get(body, 'params')
        penv = {}
        if params is not None and params[0] == 'obj':
            for k, v in params[1]:
                if isinstance(k, str):
                    penv[k] = self.ev.eval(v, env)
        ctx = dict(self.ctx)
        scope = _obj_get(body, 'scope')
        if scope is not None:
            for s in self.ev.eval(scope, env):
                if isinstance(s, dict) and isinstance(s.get('subscriptionId'), str):
                    ctx['subscription'] = s['subscriptionId']
        ctx['dir'] = target.parent
        inst = Instance(self.c, bl.parse_file(target), penv, ctx, self.label, self.seen, self.depth + 1)
        if env_extra is None:
            self.modules[key] = inst
        return inst

    def iterations(self, d):
        """[(env, instance label)] for a declaration: one per loop item (and per alternative of
        the loop's array), or one."""
        if d.value[0] != 'for':
            return [({}, d.name)]
        _, item, index, iterable, _ = d.value
        out = []
        for seq in self.ev.eval(iterable, {}):
            if isinstance(seq, Unknown):
                out.append(({item: [seq]}, f'{d.name}[?]'))
                continue
            for i, x in enumerate(seq):
                e = {item: [x]}
                if index:
                    e[index] = [i]
                out.append((e, f'{d.name}[{i}]'))
        return out

    def walk(self):
        f = self.f
        for d in f.of('resource'):
            if d.existing:
                continue
            rtype = d.type.split('@')[0].lower()
            body = _unwrap(d.value)
            name_node = _obj_get(body, 'name')
            for env, inst_label in self.iterations(d):
                where = f'{f.path.name}:{d.line} {inst_label}'
                values = self.ev.eval(name_node, env) if name_node is not None else [Unknown('no name')]
                for v in values:
                    self.c.check_name_value(rtype, v, where, self.label)
                if rtype.count('/') == 1:
                    self.seen.setdefault((f.path.name, d.name, rtype), []).append(
                        (inst_label, {v.lower() for v in values if isinstance(v, str)}))
        for d in f.of('module'):
            body = _unwrap(d.value)
            name_node = _obj_get(body, 'name')
            for env, inst_label in self.iterations(d):
                where = f'{f.path.name}:{d.line} module {inst_label}'
                values = self.ev.eval(name_node, env) if name_node is not None else [Unknown('no name')]
                for v in values:
                    self.c.check_name_value('microsoft.resources/deployments', v, where, self.label)
                self.seen.setdefault((f.path.name, d.name, 'deployments'), []).append(
                    (inst_label, {v.lower() for v in values if isinstance(v, str)}))
                inst = self.module_instance(d, env if d.value[0] == 'for' else None)
                if inst is not None:
                    inst.walk()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--infra', type=Path, default=ROOT / 'infra', help='directory with main.bicep (default: infra/)')
    ap.add_argument('--types', type=Path, default=ROOT / 'scripts' / 'bicep-types' / 'bicep-types.json')
    args = ap.parse_args(argv)
    try:
        types = json.loads(args.types.read_text())
    except OSError as e:
        sys.exit(f'check-bicep-types: cannot read the type data {args.types}: {e}. Refresh it with scripts/bicep-types/refresh.py.')
    c = Checker(args.infra, types)
    c.types_versions = types.get('versions', {})
    files = sorted(args.infra.rglob('*.bicep'))
    if not files:
        sys.exit(f'check-bicep-types: no .bicep files under {args.infra}')
    try:
        parsed = [bl.parse_file(f) for f in files]
    except bl.ParseError as e:
        sys.exit(f'check-bicep-types: {e}')
    for f in parsed:
        c.check_types(f)
    param_files = sorted(args.infra.glob('*.parameters*.json'))
    main_path = args.infra / 'main.bicep'
    c.check_flex(parsed, param_files)
    if main_path.exists():
        main_file = bl.parse_file(main_path)
        for pf in param_files:
            c.check_params_file(main_file, pf)
        c.check_names(main_file, param_files)
    print(f'check-bicep-types: {c.checked} property uses checked in {len(files)} files against '
          f"{types.get('source', {}).get('repository', '?')} @ {types.get('source', {}).get('commit', '?')[:10]}; "
          f'{c.names_checked} resource names evaluated (extremes of `name`, {len(AWKWARD_CLUSTER_NAMES)} cluster names, the parameters files); '
          f'{len(c.problems)} problem(s)')
    for p in c.problems:
        print('  PROBLEM', p)
    return 1 if c.problems else 0


if __name__ == '__main__':
    sys.exit(main())

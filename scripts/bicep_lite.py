"""A small parser and evaluator for the subset of Bicep that infra/ uses (standard library only).

Used by scripts/check-bicep-types.py and its tests. No Bicep compiler runs here, and the Python
parser CI uses for syntax (pycep) gives string literals and identifiers alike as plain strings,
keeps interpolated strings unparsed and gets operator precedence wrong (`a <= 1 && b` parses as
`a <= (1 && b)`), so the checks read the files with this instead:

    parse_file(path) -> File          declarations in source order, expressions as Node trees
    Evaluator(...).eval(node, env)    every value an expression can take (a list), where a bool
                                      parameter may be true or false and an unknown input stays
                                      Unknown (see the Evaluator docstring)

Supported: `targetScope`, decorators, `param`, `var`, `resource` (with `existing`), `module`,
`output`; objects and arrays (newline- or comma-separated), `[for x in y: …]` /
`[for (x, i) in y: if (c) …]`, `if (c) {…}` bodies, strings with `${…}` interpolation and
escapes, numbers, true/false/null, calls, `.prop`, `[index]`, `! -`, `* / %`, `+ -`,
`< <= > >=`, `== != =~ !~`, `&&`, `||`, `??`, `c ? a : b`. Anything else is a ParseError that
names the file, line and what was found.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path


class ParseError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Tokens

@dataclass
class Tok:
    kind: str  # 'id' 'num' 'str' 'op' 'nl' 'eof'
    value: object
    line: int


_OPS = ['&&', '||', '==', '!=', '=~', '!~', '<=', '>=', '??', '?.',
        '{', '}', '[', ']', '(', ')', ',', ':', '.', '?', '!', '<', '>', '=', '+', '-', '*', '/', '%', '@']
_ESCAPES = {'\\': '\\', "'": "'", 'n': '\n', 'r': '\r', 't': '\t', '$': '$'}


def _scan_string(text: str, i: int, line: int, where: str):
    """text[i] is the opening quote. Returns (parts, end index, line): parts are str and Node."""
    assert text[i] == "'"
    i += 1
    parts: list = []
    buf = []
    while True:
        if i >= len(text):
            raise ParseError(f"{where}:{line}: unterminated string")
        c = text[i]
        if c == "'":
            if buf:
                parts.append(''.join(buf))
            return parts, i + 1, line
        if c == '\n':
            raise ParseError(f"{where}:{line}: newline in a string (multi-line strings are not supported here)")
        if c == '\\':
            e = text[i + 1:i + 2]
            if e in _ESCAPES:
                buf.append(_ESCAPES[e]); i += 2; continue
            if e == 'u' and text[i + 2:i + 3] == '{':
                end = text.index('}', i)
                buf.append(chr(int(text[i + 3:end], 16))); i = end + 1; continue
            raise ParseError(f"{where}:{line}: unknown escape \\{e} in a string")
        if c == '$' and text[i + 1:i + 2] == '{':
            # find the matching '}' (strings inside the hole may contain braces)
            depth, j = 1, i + 2
            while depth:
                if j >= len(text):
                    raise ParseError(f"{where}:{line}: unterminated ${{ in a string")
                ch = text[j]
                if ch == "'":
                    _, j, _ = _scan_string(text, j, line, where); continue
                if ch == '{': depth += 1
                elif ch == '}': depth -= 1
                j += 1
            inner = text[i + 2:j - 1]
            if buf:
                parts.append(''.join(buf)); buf = []
            parts.append(parse_expression(inner, where, line))
            i = j
            continue
        buf.append(c); i += 1


def tokenize(text: str, where: str = '<text>', line: int = 1) -> list[Tok]:
    toks: list[Tok] = []
    i = 0
    depth: list[str] = []  # open brackets; newlines inside ( ) are not separators
    while i < len(text):
        c = text[i]
        if c in ' \t\r':
            i += 1; continue
        if c == '\n':
            if not depth or depth[-1] != '(':
                toks.append(Tok('nl', None, line))
            line += 1; i += 1; continue
        if text.startswith('//', i):
            j = text.find('\n', i)
            i = len(text) if j < 0 else j
            continue
        if text.startswith('/*', i):
            j = text.index('*/', i)
            line += text.count('\n', i, j)
            i = j + 2; continue
        if c == "'":
            parts, i, line = _scan_string(text, i, line, where)
            toks.append(Tok('str', parts, line)); continue
        m = re.match(r'[0-9]+', text[i:])
        if m:
            toks.append(Tok('num', int(m.group()), line)); i += len(m.group()); continue
        m = re.match(r'[A-Za-z_][A-Za-z0-9_]*', text[i:])
        if m:
            toks.append(Tok('id', m.group(), line)); i += len(m.group()); continue
        for op in _OPS:
            if text.startswith(op, i):
                if op in '([{':
                    depth.append(op)
                elif op in ')]}':
                    if not depth:
                        raise ParseError(f"{where}:{line}: unbalanced {op!r}")
                    depth.pop()
                toks.append(Tok('op', op, line)); i += len(op)
                break
        else:
            raise ParseError(f"{where}:{line}: unexpected character {c!r}")
    toks.append(Tok('eof', None, line))
    return toks


# ---------------------------------------------------------------------------------------------
# Syntax tree: tuples tagged by their first element
#   ('str', parts)  parts: list of str | Node      ('num', n)  ('bool', b)  ('null',)
#   ('id', name)    ('obj', [(key, node)])         ('arr', [node])
#   ('for', item, index|None, iterable, body)      ('if', cond, body)
#   ('call', name, [args])  ('prop', node, name)   ('index', node, node)
#   ('un', op, node)        ('bin', op, a, b)      ('cond', c, a, b)

def literal(node):
    """The string of a non-interpolated string literal, else None."""
    if node and node[0] == 'str' and all(isinstance(p, str) for p in node[1]):
        return ''.join(node[1])
    return None


@dataclass
class Decl:
    kind: str  # param var resource module output targetScope
    name: str
    line: int
    value: object = None  # expression (default for a param)
    type: str = ''  # param/output type, resource 'Type@version', module path
    existing: bool = False
    decorators: dict = field(default_factory=dict)  # name -> [arg nodes]


@dataclass
class File:
    path: Path
    decls: list
    text: str

    def of(self, kind):
        return [d for d in self.decls if d.kind == kind]

    def get(self, kind, name):
        for d in self.decls:
            if d.kind == kind and d.name == name:
                return d
        return None


class _Parser:
    def __init__(self, toks, where):
        self.t = toks; self.i = 0; self.where = where

    def peek(self, k=0):
        return self.t[self.i + k]

    def next(self):
        tok = self.t[self.i]; self.i += 1; return tok

    def err(self, msg, tok=None):
        tok = tok or self.peek()
        shown = {'nl': 'end of line', 'eof': 'end of file'}.get(tok.kind, repr(tok.value))
        raise ParseError(f"{self.where}:{tok.line}: {msg} (found {shown})")

    def is_op(self, v, k=0):
        tok = self.peek(k); return tok.kind == 'op' and tok.value == v

    def expect_op(self, v):
        if not self.is_op(v):
            self.err(f"expected {v!r}")
        return self.next()

    def expect_id(self, v=None):
        tok = self.peek()
        if tok.kind != 'id' or (v and tok.value != v):
            self.err(f"expected {v or 'a name'}")
        return self.next().value

    def skip_nl(self):
        while self.peek().kind == 'nl':
            self.i += 1

    # statements
    def file(self):
        decls = []; decorators = {}
        while True:
            self.skip_nl()
            tok = self.peek()
            if tok.kind == 'eof':
                return decls
            if self.is_op('@'):
                self.next()
                name = self.expect_id()
                if self.is_op('.'):
                    self.next(); name = self.expect_id()
                args = self.call_args() if self.is_op('(') else []
                decorators[name] = args
                continue
            kw = self.expect_id()
            line = tok.line
            if kw == 'targetScope':
                self.expect_op('='); decls.append(Decl('targetScope', 'targetScope', line, self.expr()))
            elif kw == 'param':
                name = self.expect_id(); typ = self.expect_id()
                default = None
                if self.is_op('='):
                    self.next(); default = self.expr()
                decls.append(Decl('param', name, line, default, typ, decorators=decorators))
            elif kw == 'var':
                name = self.expect_id(); self.expect_op('=')
                decls.append(Decl('var', name, line, self.expr(), decorators=decorators))
            elif kw in ('resource', 'module'):
                name = self.expect_id()
                tok = self.next()
                typ = literal(('str', tok.value)) if tok.kind == 'str' else None
                if typ is None:
                    self.err(f"expected the {kw} type as a plain string", tok)
                existing = False
                if self.peek().kind == 'id' and self.peek().value == 'existing':
                    self.next(); existing = True
                self.expect_op('=')
                body = self.if_or_expr()
                decls.append(Decl(kw, name, line, body, typ, existing, decorators))
            elif kw == 'output':
                name = self.expect_id(); typ = self.expect_id(); self.expect_op('=')
                decls.append(Decl('output', name, line, self.expr(), typ, decorators=decorators))
            else:
                self.err(f"unsupported declaration {kw!r}")
            decorators = {}
            if self.peek().kind not in ('nl', 'eof'):
                self.err("expected the end of the line")

    def if_or_expr(self):
        if self.peek().kind == 'id' and self.peek().value == 'if' and self.is_op('(', 1):
            self.next(); self.expect_op('('); cond = self.expr(); self.expect_op(')')
            return ('if', cond, self.expr())
        return self.expr()

    # expressions, lowest precedence first
    def expr(self):
        c = self.coalesce()
        if self.is_op('?'):
            self.next(); a = self.expr(); self.expect_op(':'); b = self.expr()
            return ('cond', c, a, b)
        return c

    def _binary(self, ops, sub):
        a = sub()
        while self.peek().kind == 'op' and self.peek().value in ops:
            op = self.next().value
            a = ('bin', op, a, sub())
        return a

    def coalesce(self): return self._binary(('??',), self.or_)
    def or_(self): return self._binary(('||',), self.and_)
    def and_(self): return self._binary(('&&',), self.equality)
    def equality(self): return self._binary(('==', '!=', '=~', '!~'), self.relational)
    def relational(self): return self._binary(('<', '<=', '>', '>='), self.additive)
    def additive(self): return self._binary(('+', '-'), self.multiplicative)
    def multiplicative(self): return self._binary(('*', '/', '%'), self.unary)

    def unary(self):
        if self.is_op('!') or self.is_op('-'):
            op = self.next().value
            return ('un', op, self.unary())
        return self.postfix()

    def postfix(self):
        node = self.primary()
        while True:
            if self.is_op('.') or self.is_op('?.'):
                self.next(); node = ('prop', node, self.expect_id())
            elif self.is_op('['):
                self.next(); idx = self.expr(); self.expect_op(']'); node = ('index', node, idx)
            else:
                return node

    def call_args(self):
        self.expect_op('(')
        args = []
        while not self.is_op(')'):
            args.append(self.expr())
            if self.is_op(','):
                self.next()
            elif not self.is_op(')'):
                self.err("expected ',' or ')'")
        self.next()
        return args

    def primary(self):
        tok = self.peek()
        if tok.kind == 'str':
            self.next(); return ('str', tok.value)
        if tok.kind == 'num':
            self.next(); return ('num', tok.value)
        if tok.kind == 'id':
            self.next()
            if tok.value in ('true', 'false'):
                return ('bool', tok.value == 'true')
            if tok.value == 'null':
                return ('null',)
            if self.is_op('('):
                return ('call', tok.value, self.call_args())
            if self.is_op('.') and self.peek(1).kind == 'id' and self.is_op('(', 2) and tok.value in ('sys', 'az'):
                self.next(); name = self.expect_id(); return ('call', name, self.call_args())
            return ('id', tok.value)
        if self.is_op('('):
            self.next(); e = self.expr(); self.expect_op(')'); return e
        if self.is_op('{'):
            return self.obj()
        if self.is_op('['):
            return self.arr()
        self.err("expected an expression")

    def _items(self, close, item):
        out = []
        while True:
            self.skip_nl()
            if self.is_op(close):
                self.next(); return out
            out.append(item())
            if self.is_op(','):
                self.next()
            elif self.peek().kind != 'nl' and not self.is_op(close):
                self.err(f"expected a new line, ',' or {close!r}")

    def obj(self):
        self.expect_op('{')

        def entry():
            tok = self.next()
            if tok.kind == 'id':
                key = tok.value
            elif tok.kind == 'str':
                key = ('str', tok.value) if literal(('str', tok.value)) is None else literal(('str', tok.value))
            else:
                self.err("expected a property name", tok)
            self.expect_op(':')
            return (key, self.expr())
        return ('obj', self._items('}', entry))

    def arr(self):
        self.expect_op('[')
        if self.peek().kind == 'id' and self.peek().value == 'for':
            self.next()
            if self.is_op('('):
                self.next(); item = self.expect_id(); self.expect_op(','); index = self.expect_id(); self.expect_op(')')
            else:
                item, index = self.expect_id(), None
            self.expect_id('in')
            iterable = self.expr()
            self.expect_op(':')
            body = self.if_or_expr()
            self.skip_nl()
            self.expect_op(']')
            return ('for', item, index, iterable, body)
        return ('arr', self._items(']', self.expr))


def parse_expression(text: str, where: str = '<expr>', line: int = 1):
    p = _Parser(tokenize(text, where, line), where)
    p.skip_nl()
    e = p.expr()
    p.skip_nl()
    if p.peek().kind != 'eof':
        p.err("unexpected text after the expression")
    return e


def parse_text(text: str, where: str = '<text>') -> list:
    return _Parser(tokenize(text, where), where).file()


_CACHE: dict = {}


def parse_file(path) -> File:
    path = Path(path)
    key = path.resolve()
    if key not in _CACHE:
        text = path.read_text()
        _CACHE[key] = File(path, parse_text(text, str(path)), text)
    return _CACHE[key]


# ---------------------------------------------------------------------------------------------
# Evaluation

class Unknown:
    """A value the checks cannot know before deployment (an id, a principal, a location…).
    `why` says where it came from; it keeps derived GUIDs and hashes distinct."""
    def __init__(self, why):
        self.why = why

    def __repr__(self):
        return f"<unknown: {self.why}>"

    def __eq__(self, other):
        return isinstance(other, Unknown) and other.why == self.why

    def __hash__(self):
        return hash(self.why)


def unique_string(*args) -> str:
    """Stand-in for ARM's uniqueString(): deterministic, 13 characters from [a-z2-7] (base32 of a
    64-bit hash, as ARM's). The checks rely only on that shape, not on ARM's exact hash."""
    digest = hashlib.sha256('-'.join(map(str, args)).encode()).digest()
    n = int.from_bytes(digest[:9], 'big') >> 7  # 65 bits: 13 characters of 5 bits
    alphabet = 'abcdefghijklmnopqrstuvwxyz234567'
    return ''.join(alphabet[(n >> (5 * (12 - k))) & 31] for k in range(13))


def guid(*args) -> str:
    h = hashlib.sha256('|'.join(map(str, args)).encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _s(v):
    if isinstance(v, bool):
        return 'True' if v else 'False'
    if isinstance(v, (dict, list)):
        return json.dumps(v)
    return str(v)


def _fn(name, args, ctx):
    """One concrete call. Unknown arguments make Unknown results except where noted."""
    a = args
    if name == 'uniqueString':
        return unique_string(*[x.why if isinstance(x, Unknown) else x for x in a])
    if name == 'guid':
        return guid(*[x.why if isinstance(x, Unknown) else x for x in a])
    if name == 'subscription':
        sub = a[0] if a else ctx['subscription']
        return {'id': f"/subscriptions/{sub}", 'subscriptionId': sub, 'tenantId': Unknown('tenantId')}
    if name == 'resourceGroup':
        return {'id': Unknown('resourceGroup().id'), 'name': a[-1] if a else ctx.get('resourceGroup', Unknown('rg')),
                'subscriptionId': a[0] if len(a) > 1 else ctx['subscription'],
                'location': Unknown('resourceGroup().location')}
    if name == 'loadJsonContent':
        return json.loads((ctx['dir'] / a[0]).read_text())
    if name in ('subscriptionResourceId', 'resourceId', 'tenantResourceId', 'extensionResourceId'):
        return Unknown(f"{name}({', '.join(map(_s, a))})")
    if any(isinstance(x, Unknown) for x in a):
        if name == 'empty' and a and isinstance(a[0], Unknown):
            return Unknown(f"empty({a[0].why})")
        return Unknown(f"{name}({', '.join(map(_s, a))})")
    if name == 'toLower': return a[0].lower()
    if name == 'toUpper': return a[0].upper()
    if name == 'take': return a[0][:a[1]]
    if name == 'skip': return a[0][a[1]:]
    if name == 'replace': return a[0].replace(a[1], a[2])
    if name == 'split': return a[0].split(a[1])
    if name == 'last': return a[0][-1]
    if name == 'first': return a[0][0]
    if name == 'length': return len(a[0])
    if name == 'contains': return a[1] in a[0]
    if name == 'empty': return a[0] is None or len(a[0]) == 0
    if name == 'startsWith': return a[0].lower().startswith(a[1].lower())
    if name == 'endsWith': return a[0].lower().endswith(a[1].lower())
    if name == 'substring': return a[0][a[1]:a[1] + a[2]] if len(a) > 2 else a[0][a[1]:]
    if name == 'trim': return a[0].strip()
    if name == 'string': return a[0] if isinstance(a[0], str) else _s(a[0])
    if name == 'concat':
        if all(isinstance(x, list) for x in a):
            return [y for x in a for y in x]
        return ''.join(_s(x) for x in a)
    if name == 'join': return a[1].join(a[0])
    if name == 'union':
        if all(isinstance(x, dict) for x in a):
            out = {}
            for x in a: out.update(x)
            return out
        out = []
        for x in a:
            out += [y for y in x if y not in out]
        return out
    if name == 'items': return [{'key': k, 'value': v} for k, v in sorted(a[0].items(), key=lambda kv: kv[0].lower())]
    if name == 'json':
        try:
            return json.loads(a[0])
        except ValueError:
            return Unknown(f"json({a[0]!r})")
    if name == 'min': return min(a)
    if name == 'max': return max(a)
    return Unknown(f"{name}(…)")


MAX_ALTERNATIVES = 512


class Evaluator:
    """Evaluates expressions to the list of values they can take.

    env maps a name to the list of its possible values (a bool parameter: [True, False]); a name
    the caller has not bound evaluates to [Unknown(name)]. A condition that can be true and false
    gives both branches' values. `resolve(name)` is called for names env lacks (the File's vars,
    resource and module symbols). Products of alternatives are capped at MAX_ALTERNATIVES.
    """

    def __init__(self, ctx=None, resolve=None):
        self.ctx = ctx or {}
        self.resolve = resolve or (lambda name: [Unknown(name)])

    def eval(self, node, env):
        tag = node[0]
        if tag == 'str':
            alts = [[p] if isinstance(p, str) else self.eval(p, env) for p in node[1]]
            out = []
            for combo in itertools.islice(itertools.product(*alts), MAX_ALTERNATIVES):
                bad = [x for x in combo if isinstance(x, Unknown)]
                out.append(Unknown('${' + bad[0].why + '}') if bad else ''.join(_s(x) for x in combo))
            return _dedupe(out)
        if tag == 'num': return [node[1]]
        if tag == 'bool': return [node[1]]
        if tag == 'null': return [None]
        if tag == 'id':
            return env[node[1]] if node[1] in env else self.resolve(node[1])
        if tag == 'obj':
            keys = []
            vals = []
            for k, v in node[1]:
                keys.append(k if isinstance(k, str) else self.eval(k, env))
                vals.append(self.eval(v, env))
            out = []
            key_alts = [[k] if isinstance(k, str) else k for k in keys]
            for kc in itertools.islice(itertools.product(*key_alts), MAX_ALTERNATIVES):
                for vc in itertools.islice(itertools.product(*vals), MAX_ALTERNATIVES):
                    out.append({(k if not isinstance(k, Unknown) else k.why): v for k, v in zip(kc, vc)})
                    if len(out) >= MAX_ALTERNATIVES: break
            return _dedupe(out)
        if tag == 'arr':
            items = [self.eval(x, env) for x in node[1]]
            return _dedupe([list(c) for c in itertools.islice(itertools.product(*items), MAX_ALTERNATIVES)])
        if tag == 'for':
            _, item, index, iterable, body = node
            out = []
            for seq in self.eval(iterable, env):
                if isinstance(seq, Unknown):
                    out.append(Unknown(f"[for {item} in {seq.why}]")); continue
                if isinstance(seq, dict):
                    seq = [{'key': k, 'value': v} for k, v in seq.items()]
                per_item = []
                for i, x in enumerate(seq):
                    e2 = dict(env); e2[item] = [x]
                    if index: e2[index] = [i]
                    vals = self.eval(body, e2)
                    per_item.append([v for v in vals if v is not _SKIP] or [_SKIP])
                for c in itertools.islice(itertools.product(*per_item), MAX_ALTERNATIVES):
                    out.append([v for v in c if v is not _SKIP])
            return _dedupe(out)
        if tag == 'if':
            conds = self.eval(node[1], env)
            out = []
            if any(c is not False for c in conds):
                out += self.eval(node[2], env)
            if any(c is False or isinstance(c, Unknown) for c in conds):
                out.append(_SKIP)
            return out
        if tag == 'cond':
            conds = self.eval(node[1], env)
            out = []
            if any(c is True or isinstance(c, Unknown) for c in conds):
                out += self.eval(node[2], env)
            if any(c is False or isinstance(c, Unknown) for c in conds):
                out += self.eval(node[3], env)
            return _dedupe(out)
        if tag == 'call':
            arg_alts = [self.eval(x, env) for x in node[2]]
            out = []
            for c in itertools.islice(itertools.product(*arg_alts), MAX_ALTERNATIVES):
                out.append(_fn(node[1], list(c), self.ctx))
            return _dedupe(out)
        if tag == 'prop':
            out = []
            for base in self.eval(node[1], env):
                if isinstance(base, ResourceRef):
                    out += base.member(node[2])
                else:
                    out.append(self.member(base, node[2]))
            return _dedupe(out)
        if tag == 'index':
            out = []
            for base in self.eval(node[1], env):
                for idx in self.eval(node[2], env):
                    if isinstance(base, Unknown) or isinstance(idx, Unknown):
                        out.append(Unknown(f"{_why(base)}[{_s(idx)}]"))
                    elif isinstance(base, ResourceRef):
                        out += base.at(idx)
                    else:
                        try:
                            out.append(base[idx])
                        except (IndexError, KeyError, TypeError):
                            out.append(Unknown(f"{_s(base)}[{_s(idx)}]"))
            return _dedupe(out)
        if tag == 'un':
            out = []
            for v in self.eval(node[2], env):
                if isinstance(v, Unknown): out.append(Unknown(f"{node[1]}{v.why}"))
                else: out.append((not v) if node[1] == '!' else -v)
            return _dedupe(out)
        if tag == 'bin':
            op = node[1]
            out = []
            for a, b in itertools.islice(itertools.product(self.eval(node[2], env), self.eval(node[3], env)), MAX_ALTERNATIVES):
                out.append(_binop(op, a, b))
            return _dedupe(out)
        raise ValueError(f"cannot evaluate {tag}")

    def member(self, base, name):
        if isinstance(base, Unknown):
            return Unknown(f"{base.why}.{name}")
        if isinstance(base, dict):
            if name in base:
                return base[name]
            for k in base:
                if isinstance(k, str) and k.lower() == name.lower():
                    return base[k]
        return Unknown(f"{_s(base)}.{name}")


class _Skip:
    def __repr__(self): return '<skipped>'


_SKIP = _Skip()  # a loop body whose `if` is false


class ResourceRef:
    """A resource or module symbol: member(name) and at(index) give lists of alternatives
    (.name, .outputs -> another ResourceRef, .id -> Unknown…)."""
    def __init__(self, label, member, at=None):
        self.label = label; self._member = member; self._at = at

    def member(self, name):
        return self._member(name)

    def at(self, idx):
        return self._at(idx) if self._at else [Unknown(f"{self.label}[{idx}]")]

    def __repr__(self):
        return f"<{self.label}>"


def _why(v):
    return v.why if isinstance(v, Unknown) else _s(v)


def _binop(op, a, b):
    if op == '&&':
        if a is False or b is False: return False
    if op == '||':
        if a is True or b is True: return True
    if op == '??':
        return b if a is None else a
    if isinstance(a, Unknown) or isinstance(b, Unknown):
        return Unknown(f"{_why(a)} {op} {_why(b)}")
    if op == '&&': return bool(a and b)
    if op == '||': return bool(a or b)
    if op == '==': return a == b
    if op == '!=': return a != b
    if op == '=~': return str(a).lower() == str(b).lower()
    if op == '!~': return str(a).lower() != str(b).lower()
    if op == '<': return a < b
    if op == '<=': return a <= b
    if op == '>': return a > b
    if op == '>=': return a >= b
    if op == '+': return a + b
    if op == '-': return a - b
    if op == '*': return a * b
    if op == '/': return a // b
    if op == '%': return a % b
    raise ValueError(op)


def _dedupe(values):
    out = []
    for v in values:
        if v is _SKIP:
            if not any(x is _SKIP for x in out):
                out.append(v)
            continue
        if not any(type(x) is type(v) and x == v for x in out):
            out.append(v)
    return out

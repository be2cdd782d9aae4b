"""Print jedi's answer for every call site of a Python tree, as JSON lines.

Usage: python3 jedi_calls.py ROOT [K N]   (K N: only the files i with i % N == K)

Each call site (a name, or x.name, followed by an argument list) gives
  {"path": "pkg/mod.py", "line": 3, "col": 5, "name": "m", "self": false,
   "defs": [{"full_name": "pkg.mod.C.m", "type": "function", "in_tree": true}]}
where line/col (1-based, col in bytes) is where the whole call expression
starts, as in Grafo's edges, self says the call is self.m() or cls.m(),
and defs are jedi's goto (following imports)
definitions that are functions or classes, else its infer ones. Each class
of the tree gives {"class": "pkg.mod.C", "bases": ["pkg.base.B", ...]},
its bases as jedi infers them, for judging dispatch to overrides.
"""

import json
import os
import sys

try:
    import jedi
    from jedi.inference.gradual import typeshed
except ImportError:
    sys.stderr.write("python3-jedi missing: run make deps (apt-get install python3-jedi)\n")
    sys.exit(3)

CALLABLE = ("function", "class")

# Inferring a parameter from the calls of its function costs more than the
# rest together; without it jedi judges fewer sites, each as exactly.
jedi.settings.dynamic_params = False
jedi.settings.dynamic_params_for_other_modules = False
# jedi's pickle cache is not safe across processes: one reading a file
# another is writing fails with EOFError. Each process gets its own.
if os.environ.get("JEDI_CACHE_DIR"):
    jedi.settings.cache_directory = os.environ["JEDI_CACHE_DIR"]


def describe(names, root):
    out = []
    for n in names:
        if n.type not in CALLABLE or not n.full_name:
            continue
        p = str(n.module_path) if n.module_path else ""
        out.append({"full_name": n.full_name, "type": n.type,
                    "in_tree": bool(p) and p.startswith(root + os.sep) and p.endswith(".py")})
    return out


def byte_col(lines, line, col):
    return len(lines[line - 1][:col].encode("utf-8")) + 1


def main():
    root = os.path.realpath(sys.argv[1])
    project = jedi.Project(root)
    # The tree's own packages are judged from their code, not from
    # typeshed's stubs of the standard library, which lag it (a stub
    # without FileHandler.emit sends calls of it to Handler.emit).
    own = {n for n in os.listdir(root) if os.path.isfile(os.path.join(root, n, "__init__.py"))}
    stub = typeshed.try_to_load_stub_cached
    typeshed.try_to_load_stub_cached = lambda state, names, *a, **k: (
        None if names and names[0] in own else stub(state, names, *a, **k))
    files = []
    for d, subdirs, names in os.walk(root):
        subdirs.sort()
        files += [os.path.join(d, n) for n in sorted(names) if n.endswith(".py")]
    if len(sys.argv) == 4:
        k, n = int(sys.argv[2]), int(sys.argv[3])
        files = [f for i, f in enumerate(files) if i % n == k]
    w = sys.stdout
    for f in files:
        rel = os.path.relpath(f, root).replace(os.sep, "/")
        with open(f, encoding="utf-8") as fh:
            code = fh.read()
        lines = code.splitlines(True) or [""]
        script = jedi.Script(code, path=f, project=project)
        tree = script._module_node  # parso's tree: the call sites are its trailers

        def visit(node):
            for c in getattr(node, "children", ()):
                visit(c)
            if node.type == "classdef":
                bases = []
                arglist = node.get_super_arglist()
                args = [] if arglist is None else (
                    arglist.children if arglist.type == "arglist" else [arglist])
                for a in args:
                    if a.type in ("operator", "argument"):
                        continue  # commas, metaclass=...
                    end = a.end_pos
                    bases += [n.full_name for n in script.infer(end[0], end[1] - 1)
                              if n.type == "class" and n.full_name]
                name = node.name
                for n in script.goto(name.start_pos[0], name.start_pos[1]):
                    if n.full_name:
                        w.write(json.dumps({"class": n.full_name, "bases": bases}) + "\n")
                return
            if node.type not in ("atom_expr", "power"):
                return
            kids = node.children
            start = 1 if kids[0].type == "keyword" and kids[0].value == "await" else 0
            if node.type == "power":
                return  # x ** y: the operands are visited on their own
            first = kids[start]
            for i in range(start + 1, len(kids)):
                t = kids[i]
                if t.type != "trailer" or t.children[0].value != "(":
                    continue
                prev = kids[i - 1]
                if prev.type == "name" and i - 1 == start:
                    callee = prev
                elif prev.type == "trailer" and prev.children[0].value == ".":
                    callee = prev.children[1]
                else:
                    continue  # f()(), x[0](): no name to ask about
                line, col = callee.start_pos
                defs = describe(script.goto(line, col, follow_imports=True), root)
                if not defs:
                    defs = describe(script.infer(line, col), root)
                self_recv = (i - 1 == start + 1 and first.type == "name" and first.value in ("self", "cls"))
                sl, sc = first.start_pos
                w.write(json.dumps({"path": rel, "line": sl, "col": byte_col(lines, sl, sc),
                                    "name": callee.value, "self": self_recv, "defs": defs}) + "\n")

        visit(tree)


main()

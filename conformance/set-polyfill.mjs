// Set methods of Node 22 (union, intersection, …) for Node 20, which the
// machine has: gitlab-ci-local 4.75 calls Set.prototype.union at load time.
const P = Set.prototype;
const def = (n, f) => { if (!P[n]) Object.defineProperty(P, n, { value: f, writable: true, configurable: true }); };
def("union", function (o) { const r = new Set(this); for (const x of o.keys()) r.add(x); return r; });
def("intersection", function (o) { const r = new Set(); for (const x of this) if (o.has(x)) r.add(x); return r; });
def("difference", function (o) { const r = new Set(); for (const x of this) if (!o.has(x)) r.add(x); return r; });
def("symmetricDifference", function (o) { const r = new Set(this); for (const x of o.keys()) { if (this.has(x)) r.delete(x); else r.add(x); } return r; });
def("isSubsetOf", function (o) { for (const x of this) if (!o.has(x)) return false; return true; });
def("isSupersetOf", function (o) { for (const x of o.keys()) if (!this.has(x)) return false; return true; });
def("isDisjointFrom", function (o) { for (const x of this) if (o.has(x)) return false; return true; });

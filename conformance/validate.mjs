// Validators of make conformance (conformance/run.sh), with ajv from npm
// (installed by .ci/install-conformance.sh into $CAB_TOOLS/node_modules).
//
//   node validate.mjs json SCHEMA DOC            JSON Schema (draft-04 when the schema says so, else draft-07)
//   node validate.mjs sarif-github SARIF TICKET  the rules GitHub code scanning applies to an upload
//   node validate.mjs codequality SCHEMA REPORT TICKET
//                                                GitLab's per-issue schema, and what its docs require
//
// Exit status 0 when the document passes, 1 with every problem printed.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const tools = process.env.CAB_TOOLS || join(process.env.HOME, ".cache", "cab-conformance");
const require = createRequire(join(tools, "node_modules", "noop.js"));
const read = (f) => JSON.parse(readFileSync(f, "utf8"));
const problems = [];
const problem = (m) => problems.push(m);

function compile(schema) {
  const draft4 = String(schema.$schema || "").includes("draft-04");
  const Ajv = draft4 ? require("ajv-draft-04") : require("ajv");
  const ajv = new (Ajv.default || Ajv)({ allErrors: true, strict: false });
  (require("ajv-formats").default || require("ajv-formats"))(ajv);
  return ajv.compile(schema);
}

function validate(schemaFile, doc, what) {
  const v = compile(read(schemaFile));
  if (!v(doc)) for (const e of v.errors) problem(`${what}${e.instancePath || "/"}: ${e.message} ${JSON.stringify(e.params)}`);
}

// relative reports whether uri is a plain relative path inside the repository.
const relative = (uri) => uri && !uri.startsWith("/") && !/^[a-z]+:/i.test(uri) && !uri.split("/").includes("..") && !uri.startsWith("./");

const [cmd, ...args] = process.argv.slice(2);
switch (cmd) {
  case "json":
    validate(args[0], read(args[1]), args[1]);
    break;
  case "sarif-github": {
    // What GitHub code scanning needs of an upload
    // (docs: "SARIF support for code scanning"): version 2.1.0, a tool
    // driver name, rules with an id, a short and full description and help
    // (shown with every alert), results whose ruleId names a rule and whose
    // locations are artifact URIs relative to the repository root.
    const log = read(args[0]);
    const ticket = args[1];
    if (log.version !== "2.1.0") problem(`version ${log.version}`);
    for (const [i, run] of (log.runs || []).entries()) {
      const d = run.tool?.driver || {};
      if (!d.name) problem(`runs[${i}].tool.driver.name missing`);
      const ids = new Set();
      for (const r of d.rules || []) {
        ids.add(r.id);
        if (!r.shortDescription?.text) problem(`rule ${r.id}: no shortDescription`);
        if (!r.fullDescription?.text) problem(`rule ${r.id}: no fullDescription`);
        if (!r.help?.text) problem(`rule ${r.id}: no help.text`);
        if (!r.help?.markdown) problem(`rule ${r.id}: no help.markdown`);
      }
      if (!(run.results || []).length) problem(`runs[${i}]: no results (the run was meant to find problems)`);
      let onTicket = 0;
      for (const [j, r] of (run.results || []).entries()) {
        if (!ids.has(r.ruleId)) problem(`result ${j}: ruleId ${r.ruleId} names no rule`);
        if (d.rules?.[r.ruleIndex]?.id !== r.ruleId) problem(`result ${j}: ruleIndex ${r.ruleIndex} is not rule ${r.ruleId}`);
        if (!r.message?.text) problem(`result ${j}: no message`);
        for (const loc of [...(r.locations || []), ...(r.relatedLocations || [])]) {
          const a = loc.physicalLocation?.artifactLocation || {};
          if (!relative(a.uri)) problem(`result ${j}: uri ${a.uri} is not relative to the repository root`);
          if (a.uriBaseId !== "%SRCROOT%") problem(`result ${j}: uriBaseId ${a.uriBaseId}`);
          const reg = loc.physicalLocation?.region;
          if (reg && !(reg.startLine >= 1)) problem(`result ${j}: startLine ${reg.startLine}`);
        }
        if (r.locations?.[0]?.physicalLocation?.artifactLocation?.uri === ticket) onTicket++;
      }
      if (!onTicket) problem(`no result is located at ${ticket} (as the repository names it)`);
    }
    break;
  }
  case "codequality": {
    // GitLab validates each issue of a Code Quality report against its
    // codeclimate.json; its docs further require check_name, a severity
    // among info/minor/major/critical/blocker, a path relative to the
    // repository root and lines.begin (or positions.begin.line).
    const report = read(args[1]);
    const ticket = args[2];
    if (!Array.isArray(report)) problem("the report is not a JSON array");
    const v = compile(read(args[0]));
    const fps = new Set();
    let onTicket = 0;
    for (const [i, issue] of (Array.isArray(report) ? report : []).entries()) {
      if (!v(issue)) for (const e of v.errors) problem(`[${i}]${e.instancePath || "/"}: ${e.message}`);
      if (!issue.check_name) problem(`[${i}]: no check_name`);
      if (!["info", "minor", "major", "critical", "blocker"].includes(issue.severity)) problem(`[${i}]: severity ${issue.severity}`);
      if (!relative(issue.location?.path)) problem(`[${i}]: path ${issue.location?.path} is not relative to the repository root`);
      if (!(issue.location?.lines?.begin >= 1 || issue.location?.positions?.begin?.line >= 1)) problem(`[${i}]: no line`);
      if (fps.has(issue.fingerprint)) problem(`[${i}]: fingerprint ${issue.fingerprint} twice (GitLab folds them into one)`);
      fps.add(issue.fingerprint);
      if (issue.location?.path === ticket) onTicket++;
    }
    if (!onTicket) problem(`no issue is located at ${ticket}`);
    break;
  }
  default:
    problem(`unknown command ${cmd}`);
}
for (const p of problems) console.log(p);
process.exit(problems.length ? 1 : 0);

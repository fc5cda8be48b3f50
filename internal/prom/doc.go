// Package prom keeps Prometheus metrics and writes them in the exposition
// formats, without github.com/prometheus/client_golang: that library's
// package init (a default registry with Go and process collectors, procfs,
// expvar) runs in every cab command, while only cab serve keeps live
// metrics and cab metrics writes one exposition. The formats themselves
// are prometheus/common/expfmt's, over client_model's types.
//
// Invariants:
//   - Every exposition is normalised as client_golang's Gather normalises
//     it: families sorted by name, empty families left out, label pairs
//     sorted by name, metrics of a family sorted by their label values,
//     summary quantiles in increasing order. Byte for byte the same text
//     for the same samples (audit's golden files hold it).
//   - Metric and label names are fixed by the caller at construction and
//     checked then (a bad name panics, as a programming error); label
//     values come from the caller's data and are escaped by expfmt.
//   - The Go and process series (AddRuntime) carry client_golang's names,
//     types and help texts, so that dashboards built on them keep working.
//   - Nothing here is package state: two Registries never share a series.
package prom

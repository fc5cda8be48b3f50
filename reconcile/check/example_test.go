package check_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/reconcile/check"
)

func ExampleRun() {
	// A service and its Prometheus, here in-process.
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"status":"green"}`)
	}))
	defer svc.Close()
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1764626400,"0.7"]}]}}`)
	}))
	defer prom.Close()

	limit := 0.5
	checks := []model.Check{
		{Type: "http", Name: "health", URL: svc.URL + "/healthz", BodyRegex: `"green"`},
		{Type: "prometheus", Name: "error rate", Query: "sum(rate(errors_total[5m]))", Op: "<", Threshold: &limit},
	}
	out, err := check.Run(context.Background(), checks, check.Options{
		Prometheus: prom.URL,
		Budget:     20 * time.Millisecond,
		Interval:   10 * time.Millisecond,
	})
	for _, o := range out {
		fmt.Println(o.Name, o.OK)
	}
	fmt.Println(err)
	// Output:
	// health true
	// error rate false
	// 1 of 2 checks failed: error rate: value 0.7, want < 0.5
}

func ExampleQuery() {
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println(r.URL.Path, r.URL.Query().Get("query"))
		_, _ = io.WriteString(w, `{"status":"success","data":{"resultType":"scalar","result":[1764626400,"0.02"]}}`)
	}))
	defer prom.Close()

	v, err := check.Query(context.Background(), prom.Client(), prom.URL, "scalar(slo:burn_rate:1h)")
	fmt.Println(v, err)
	// Output:
	// /api/v1/query scalar(slo:burn_rate:1h)
	// 0.02 <nil>
}

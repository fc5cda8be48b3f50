package httptarget_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/reconcile/target"
	httptarget "github.com/cabhq/cab/reconcile/target/http"
)

func ExampleDriver_Apply() {
	// A webhook that speaks cab's protocol (see the package documentation).
	hook := httptest.NewServer(&webhook{})
	defer hook.Close()

	c := target.Change{
		Ticket: "CHG-2026-0042", Env: "prod", Seq: 3,
		Action:     model.Action{Type: "http", Target: "flags", Method: http.MethodPut, Path: "/flags/new-checkout", Body: []byte(`{"state": "on"}`)},
		Target:     model.Target{Type: "http", URL: hook.URL + "/cab"},
		TargetName: "flags",
	}
	d := httptarget.New()
	ctx := context.Background()
	before, _ := d.Observe(ctx, c)
	after, err := d.Apply(ctx, c)
	fmt.Println(before.Value, "→", after.Value, after.Done, err)
	// Output:
	// absent → on true <nil>
}

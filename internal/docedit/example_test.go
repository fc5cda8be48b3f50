package docedit_test

import (
	"fmt"

	"github.com/cabhq/cab/internal/docedit"
)

func ExampleYAML_Edit() {
	src := []byte(`# the payments deployment
spec:
  replicas: 3   # three is plenty
  template:
    spec:
      containers:
        - name: app
          image: ghcr.io/acme/payments:1.4.1
`)
	p, err := docedit.ParsePath(".spec.template.spec.containers[0].image")
	if err != nil {
		panic(err)
	}
	out, err := docedit.YAML{}.Edit(src, docedit.Set(p, docedit.StringValue("ghcr.io/acme/payments:1.4.2")))
	if err != nil {
		panic(err)
	}
	fmt.Print(string(out))

	doc, err := docedit.YAML{}.Parse(out)
	if err != nil {
		panic(err)
	}
	f, err := doc.Lookup(p)
	if err != nil {
		panic(err)
	}
	fmt.Println(f.Kind, f.Scalar)
	// Output:
	// # the payments deployment
	// spec:
	//   replicas: 3   # three is plenty
	//   template:
	//     spec:
	//       containers:
	//         - name: app
	//           image: ghcr.io/acme/payments:1.4.2
	// scalar ghcr.io/acme/payments:1.4.2
}

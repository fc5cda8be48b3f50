package logindex_test

import (
	"fmt"

	"github.com/cabhq/cab/audit/logindex"
)

func ExampleDecoder() {
	var e logindex.Encoder
	e.Strs([]string{"staging", "prod"})
	e.Uvarint(42)
	file := e.File(1)

	d, err := logindex.Open(file, 1)
	if err != nil {
		panic(err)
	}
	envs, n := d.Strs(), d.Uvarint()
	if err := d.Done(); err != nil {
		panic(err)
	}
	fmt.Println(envs, n)

	_, err = logindex.Open(file, 2)
	fmt.Println(err)
	// Output:
	// [staging prod] 42
	// corrupt cab log index: version 1, want 2
}

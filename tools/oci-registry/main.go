// Command oci-registry serves an in-memory OCI registry on one loopback address,
// so the live test suite can push the function package and Crossplane can pull it.
package main

import (
	"flag"
	"log"
	"net/http"

	"github.com/google/go-containerregistry/pkg/registry"
)

func main() {
	addr := flag.String("address", "127.0.0.1:0", "host:port to listen on")
	flag.Parse()
	log.Printf("serving an in-memory OCI registry on %s", *addr)
	log.Fatal(http.ListenAndServe(*addr, registry.New()))
}

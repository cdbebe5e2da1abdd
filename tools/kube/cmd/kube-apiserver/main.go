// Command kube-apiserver is upstream's API server command, built through our module so that the
// test tier gets a real API server from the Go module proxy (see scripts/kube-up).
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}

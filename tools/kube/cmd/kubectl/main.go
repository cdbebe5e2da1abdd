// Command kubectl is upstream's kubectl, built from the same Kubernetes version as our
// kube-apiserver so that the two never drift apart (see scripts/kube-up).
package main

import (
	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
)

func main() {
	cli.RunNoErrOutput(cmd.NewDefaultKubectlCommand())
}

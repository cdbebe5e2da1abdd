// Command etcd is etcd's own server entry point, built through our module so that the test tier
// gets the etcd version Kubernetes is tested with (see scripts/kube-up).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}

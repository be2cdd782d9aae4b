// Package dockertest holds the container tests of the three-node cluster
// (docker_test.go, build tag docker): `make test-docker`.
package dockertest

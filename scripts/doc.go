// Package scripts holds the shell scripts of the build (deps.sh: the test
// dependencies beyond Go, installed by `make test`) and their tests.
package scripts

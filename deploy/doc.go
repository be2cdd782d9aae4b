// Package deploy holds the tests of Grafo's deployment manifests
// (deploy/kubernetes). It is a module of its own so that the Kubernetes
// API types it decodes the manifests into stay out of the main module.
package deploy

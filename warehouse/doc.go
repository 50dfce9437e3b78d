// Package warehouse reads, checks and publishes the build-lock records that
// CI writes into the GitOps repository for Kargo's Warehouse to watch.
package warehouse

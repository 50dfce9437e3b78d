// Package gitrepo reads and updates a remote Git repository over smart HTTP
// without a checkout: depth-1 filtered fetches, blobs fetched by ID, commits
// built from trees in memory, and pushes of only the new objects.
package gitrepo

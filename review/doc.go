// Package review compares two renders of a stage, resource by resource
// (kind, namespace, name), as a person reviewing a promotion reads them:
// what is added, removed or changed, a unified diff of each change, and a
// summary of the images, replicas and compute resources that move. Secret
// values are never shown, only which keys changed.
package review

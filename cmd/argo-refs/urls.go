package main

import (
	"net/url"
	"slices"
)

// hostListed reports whether raw's host is one of hosts.
func hostListed(raw string, hosts []string) bool {
	u, err := url.Parse(raw)
	return err == nil && slices.Contains(hosts, u.Hostname())
}

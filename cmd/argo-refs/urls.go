package main

import (
	"net/url"
	"slices"
)

// redactURL drops any user information from a URL before it is printed.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparseable URL>"
	}
	u.User = nil
	return u.String()
}

// hostListed reports whether raw's host is one of hosts.
func hostListed(raw string, hosts []string) bool {
	u, err := url.Parse(raw)
	return err == nil && slices.Contains(hosts, u.Hostname())
}

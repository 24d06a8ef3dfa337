package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// checkAPIEndpoint refuses plain HTTP to the ECS API anywhere but this
// machine: every request carries the AccessKeyId and the STS token, which
// anyone on the path would read. The emulator listens on loopback, so tests
// and demos need no switch; anything else needs api_insecure_http: true.
func (c Config) checkAPIEndpoint() error {
	insecure, host := c.InsecureAPIEndpoint()
	if !insecure || c.APIInsecureHTTP {
		return nil
	}
	return fmt.Errorf("api_endpoint %q is plain HTTP to %s, which would send the access key ID and STS token in clear: "+
		"use https://, or set api_insecure_http: true if you really mean it", c.APIEndpoint, host)
}

// InsecureAPIEndpoint reports whether the API endpoint is plain HTTP to a
// host that is not a loopback address, and names the host.
func (c Config) InsecureAPIEndpoint() (bool, string) {
	scheme, rest, ok := strings.Cut(c.APIEndpoint, "://")
	if !ok || !strings.EqualFold(scheme, "http") {
		return false, "" // https://, or host[:port], which means https
	}
	host := rest
	if u, err := url.Parse(c.APIEndpoint); err == nil && u.Host != "" {
		host = u.Hostname()
	}
	return !isLoopback(host), host
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

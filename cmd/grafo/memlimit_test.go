package main

import "testing"

func TestMemoryLimit(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "GOMEMLIMIT" {
				return v
			}
			return ""
		}
	}
	for _, c := range []struct {
		flag, gomemlimit string
		limit            int64
		ok, err          bool
	}{
		{flag: defaultMemoryLimit, limit: 400 << 20, ok: true},
		{flag: "1GiB", limit: 1 << 30, ok: true},
		{flag: "1GiB", gomemlimit: "2GiB"}, // the user's GOMEMLIMIT wins
		{flag: "off"},
		{flag: "0"},
		{flag: "12MiB", err: true},
		{flag: "lots", err: true},
	} {
		limit, ok, err := memoryLimit(c.flag, env(c.gomemlimit))
		if limit != c.limit || ok != c.ok || (err != nil) != c.err {
			t.Errorf("memoryLimit(%q, GOMEMLIMIT=%q) = %d, %v, %v; want %d, %v, error %v", c.flag, c.gomemlimit, limit, ok, err, c.limit, c.ok, c.err)
		}
	}
}

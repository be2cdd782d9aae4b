package autoscale

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// Spec is what --autoscale configures. Targets are per node; a zero
// target is a signal the decision ignores.
type Spec struct {
	Min, Max int

	Writes float64       // writes/s per node
	Reads  float64       // reads/s per node
	P99    time.Duration // request latency p99 (reads and writes)
	CPU    float64       // cores of CPU the process uses
	Disk   float64       // fraction of --capacity stored (0..1)

	Window   time.Duration // how long a signal must stay out of bounds
	Cooldown time.Duration // quiet time after any action
	// Low is the fraction of every target all readings must stay under
	// before a scale-in is considered.
	Low float64
	// Settle bounds the load predicted on one node fewer, as a fraction
	// of the target: the margin that stops an in-out-in flap.
	Settle float64
}

// DefaultSpec holds the defaults applied to keys a spec leaves out.
var DefaultSpec = Spec{
	Disk: 0.8, Window: 30 * time.Second, Cooldown: 2 * time.Minute,
	Low: 0.3, Settle: 0.7,
}

// ParseSpec reads "min=3,max=8,writes=2000,window=30s" or, given
// "@path", the same pairs from a file (one per line or comma separated,
// # comments). Keys: min, max, writes, reads, p99, cpu, disk, window,
// cooldown, low, settle.
func ParseSpec(s string) (Spec, error) {
	if path, ok := strings.CutPrefix(s, "@"); ok {
		b, err := os.ReadFile(path)
		if err != nil {
			return Spec{}, fmt.Errorf("autoscale: %w", err)
		}
		var lines []string
		for _, l := range strings.Split(string(b), "\n") {
			l, _, _ = strings.Cut(l, "#")
			if l = strings.TrimSpace(l); l != "" {
				lines = append(lines, l)
			}
		}
		s = strings.Join(lines, ",")
	}
	sp := DefaultSpec
	seen := map[string]bool{}
	for _, kv := range strings.Split(s, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || v == "" {
			return Spec{}, fmt.Errorf("autoscale: %q is not key=value", kv)
		}
		if seen[k] {
			return Spec{}, fmt.Errorf("autoscale: %s given twice", k)
		}
		seen[k] = true
		if err := sp.set(k, v); err != nil {
			return Spec{}, fmt.Errorf("autoscale: %s=%s: %w", k, v, err)
		}
	}
	if !seen["min"] || !seen["max"] {
		return Spec{}, fmt.Errorf("autoscale: min and max are required (e.g. min=3,max=8)")
	}
	return sp, sp.validate()
}

func (sp *Spec) set(k, v string) error {
	switch k {
	case "min", "max":
		n, err := strconv.Atoi(v)
		if err != nil {
			return err
		}
		if k == "min" {
			sp.Min = n
		} else {
			sp.Max = n
		}
	case "p99", "window", "cooldown":
		d, err := time.ParseDuration(v)
		if err != nil {
			return err
		}
		switch k {
		case "p99":
			sp.P99 = d
		case "window":
			sp.Window = d
		default:
			sp.Cooldown = d
		}
	case "writes", "reads", "cpu", "disk", "low", "settle":
		f, err := strconv.ParseFloat(strings.TrimSuffix(v, "%"), 64)
		if err != nil {
			return err
		}
		if strings.HasSuffix(v, "%") {
			f /= 100
		}
		if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
			return fmt.Errorf("must be a non-negative number")
		}
		*map[string]*float64{"writes": &sp.Writes, "reads": &sp.Reads, "cpu": &sp.CPU,
			"disk": &sp.Disk, "low": &sp.Low, "settle": &sp.Settle}[k] = f
	default:
		return fmt.Errorf("unknown key (known: min, max, writes, reads, p99, cpu, disk, window, cooldown, low, settle)")
	}
	return nil
}

func (sp Spec) validate() error {
	switch {
	case sp.Min < 1:
		return fmt.Errorf("autoscale: min=%d must be at least 1", sp.Min)
	case sp.Max < sp.Min:
		return fmt.Errorf("autoscale: max=%d is below min=%d", sp.Max, sp.Min)
	case sp.Max > 1000:
		return fmt.Errorf("autoscale: max=%d is above 1000", sp.Max)
	case sp.Window <= 0 || sp.Cooldown < 0:
		return fmt.Errorf("autoscale: window must be positive and cooldown not negative")
	case sp.Disk > 1:
		return fmt.Errorf("autoscale: disk=%v is a fraction of --capacity (at most 1)", sp.Disk)
	case sp.Low <= 0 || sp.Low >= 1 || sp.Settle <= sp.Low || sp.Settle >= 1:
		return fmt.Errorf("autoscale: need 0 < low < settle < 1 (low=%v settle=%v)", sp.Low, sp.Settle)
	}
	return nil
}

// String is the spec as pairs, the form ParseSpec reads.
func (sp Spec) String() string {
	parts := []string{fmt.Sprintf("min=%d", sp.Min), fmt.Sprintf("max=%d", sp.Max)}
	add := func(k string, v float64) {
		if v > 0 {
			parts = append(parts, k+"="+strconv.FormatFloat(v, 'g', -1, 64))
		}
	}
	add("writes", sp.Writes)
	add("reads", sp.Reads)
	if sp.P99 > 0 {
		parts = append(parts, "p99="+sp.P99.String())
	}
	add("cpu", sp.CPU)
	add("disk", sp.Disk)
	parts = append(parts, "window="+sp.Window.String(), "cooldown="+sp.Cooldown.String())
	add("low", sp.Low)
	add("settle", sp.Settle)
	return strings.Join(parts, ",")
}

// ParseBytes reads a size such as 20GiB, 512MiB, 10GB or 1048576.
func ParseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	mult := 1.0
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(num), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || f*mult > math.MaxInt64/2 {
		return 0, fmt.Errorf("%q is not a size (e.g. 20GiB, 512MiB)", s)
	}
	return int64(f * mult), nil
}

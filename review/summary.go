package review

// What a reviewer looks for first: images, replicas, requests and limits.

import (
	"fmt"
	"reflect"
	"slices"
)

// podSpecPaths are where a pod spec sits in the workload kinds.
var podSpecPaths = [][]string{
	{"spec"},                     // Pod
	{"spec", "template", "spec"}, // Deployment, StatefulSet, DaemonSet, ReplicaSet, Job
	{"spec", "jobTemplate", "spec", "template", "spec"}, // CronJob
}

func dig(obj map[string]any, path []string) map[string]any {
	cur := obj
	for _, p := range path {
		next, ok := cur[p].(map[string]any)
		if !ok {
			return nil
		}
		cur = next
	}
	return cur
}

// containers maps "container name" (init containers as "init:name") to
// the container, for the first pod spec found.
func containers(obj map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	if obj == nil {
		return out
	}
	for _, p := range podSpecPaths {
		spec := dig(obj, p)
		if spec == nil {
			continue
		}
		cs, _ := spec["containers"].([]any)
		ics, _ := spec["initContainers"].([]any)
		if len(cs) == 0 && len(ics) == 0 {
			continue
		}
		for prefix, list := range map[string][]any{"": cs, "init:": ics} {
			for _, c := range list {
				m, ok := c.(map[string]any)
				if !ok {
					continue
				}
				name, _ := m["name"].(string)
				out[prefix+name] = m
			}
		}
		return out
	}
	return out
}

// images records the images, replicas and compute resources that move in
// one resource (old or new nil when added or removed).
func (s *Summary) images(key string, old, new map[string]any) {
	oc, nc := containers(old), containers(new)
	names := map[string]bool{}
	for n := range oc {
		names[n] = true
	}
	for n := range nc {
		names[n] = true
	}
	for _, n := range slices.Sorted(mapKeys(names)) {
		oi, _ := oc[n]["image"].(string)
		ni, _ := nc[n]["image"].(string)
		if oi != ni {
			s.Images = append(s.Images, ImageChange{Resource: key, Container: n, Old: oi, New: ni})
		}
		if oc[n] != nil && nc[n] != nil && !reflect.DeepEqual(oc[n]["resources"], nc[n]["resources"]) {
			s.ComputeResources = append(s.ComputeResources, key+" "+n)
		}
	}
	or, nr := dig(old, []string{"spec"}), dig(new, []string{"spec"})
	ov, nv := replicas(or), replicas(nr)
	if ov != nv {
		s.Replicas = append(s.Replicas, ValueChange{Resource: key, Old: ov, New: nv})
	}
}

func replicas(spec map[string]any) string {
	if spec == nil || spec["replicas"] == nil {
		return ""
	}
	return fmt.Sprint(spec["replicas"])
}

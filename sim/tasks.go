package sim

import (
	"math"
	"strconv"
	"time"

	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/scenario"
)

// Tasks. An ecs service whose tasks the scenario lists has each as a
// resource of its own (type ecs-task), a member of the service:
//
//   - its log stream is named as the awslogs driver names it,
//     PREFIX/CONTAINER/TASK-ID (here ecs/SERVICE/TASK-ID), and carries its
//     share of the service's lines; a task started within the telemetry
//     writes from then on, and the task it replaced (a stream of its own
//     that the topology no longer lists, as ListTasks lists running tasks
//     only) wrote its share until then;
//   - Container Insights with enhanced observability publishes its CPU
//     and memory under ClusterName, ServiceName and TaskId
//     (TaskCpuUtilization, TaskMemoryUtilization, CpuUtilized,
//     MemoryUtilized and their reservations, network bytes): the service's
//     level, items on the service included, with an offset of its own;
//     none before it started;
//   - the service's own CPUUtilization and MemoryUtilization are the
//     average of its tasks', as AWS computes them, so an item on one task
//     shows in the service's average too.
//
// A service given as a count keeps its generated streams and no task of
// its own.

// Task sizes: the CPU units and MiB of memory a task reserves.
const (
	taskCPUUnits = 1024
	taskMemMiB   = 2048
)

// taskStream is a task's awslogs stream.
func taskStream(t *node) string {
	if t.svc == nil {
		return "ecs/app/" + t.name
	}
	return "ecs/" + t.svc.name + "/" + t.name
}

// taskWindow is when a task writes: from its start on.
func taskWindow(t *node) *scenario.Window {
	if t.r.Started.IsZero() {
		return nil
	}
	return &scenario.Window{At: t.r.Started}
}

// taskPlaces are the log streams of an ecs service's listed tasks, each
// with its share of the service's lines, and the streams of the tasks the
// ones started within the telemetry replaced, until they started.
func (m *Sim) taskPlaces(svc *node) []place {
	n := float64(len(svc.listed))
	var out []place
	for _, t := range svc.listed {
		out = append(out, place{host: svc, stream: taskStream(t), share: 1 / n, win: taskWindow(t)})
		if !t.r.Started.IsZero() {
			k := m.key("replaced", t.r.ID)
			id := hex(k, 16) + hex(mix64(k), 16)
			out = append(out, place{host: svc, stream: "ecs/" + svc.name + "/" + id, share: 1 / n, win: &scenario.Window{Until: t.r.Started}})
		}
	}
	return out
}

// clip is the part of item window w within a place's window pw (nil: no
// bound).
func clip(w scenario.Window, pw *scenario.Window) *scenario.Window {
	out := w
	if pw == nil {
		return &out
	}
	if !pw.At.IsZero() && (out.At.IsZero() || out.At.Before(pw.At)) {
		out.At = pw.At
	}
	if !pw.Until.IsZero() && (out.Until.IsZero() || out.Until.After(pw.Until)) {
		out.Until = pw.Until
	}
	return &out
}

// taskStartedAt is when a task started as DescribeTasks says: its start
// within the telemetry, or a time before it (derived from its id, so
// stable) for a task running since before.
func (m *Sim) taskStartedAt(t *node) time.Time {
	if !t.r.Started.IsZero() {
		return t.r.Started
	}
	back := 6*time.Hour + time.Duration(unit(m.key("started", t.r.ID))*48*float64(time.Hour))
	return m.sc.Start().Add(-back).Truncate(time.Second)
}

// taskConfig is what DescribeTasks says of a task.
func (m *Sim) taskConfig(t *node, set func(k, v string)) {
	if t.svc == nil {
		return
	}
	s := m.sc
	rev := max(t.r.Revision, 1)
	set("cluster", t.svc.cluster())
	set("service", t.svc.name)
	set(investigate.TaskDefinitionKey, "arn:aws:ecs:"+s.Region+":"+s.Account+":task-definition/"+t.svc.name+":"+strconv.Itoa(rev))
	set("revision", strconv.Itoa(rev))
	set(investigate.StartedAtKey, m.taskStartedAt(t).UTC().Format(time.RFC3339))
	set("last_status", "RUNNING")
	set("log_stream", taskStream(t))
}

// notStarted reports whether a task had not started at t.
func notStarted(n *node, t time.Time) bool {
	return n != nil && n.r.Type == investigate.TypeECSTask && !n.r.Started.IsZero() && t.Before(n.r.Started)
}

// serviceLevel is an ecs service's level of a metric at t from its healthy
// form core and the items on its own series, without what its tasks add.
func (m *Sim) serviceLevel(svc *node, ns, name string, core func(time.Time) float64, t time.Time) float64 {
	se := &series{node: svc, def: &metricDef{ns: ns, name: name, stat: "Average", level: core}}
	if own := m.seriesOf(svc, ns, name); own != nil {
		se.items = own.items
	}
	return se.level(m, t)
}

// taskAverage is the average over an ecs service's tasks of a task metric,
// noise included, over the tasks that report at t; NaN when none does.
func (m *Sim) taskAverage(svc *node, name string) func(time.Time) float64 {
	return func(t time.Time) float64 {
		var sum float64
		k := 0
		for _, tk := range svc.listed {
			if se := m.seriesOf(tk, nsECSInsite, name); se != nil && !se.silentAt(m, t) {
				sum += se.value(m, t)
				k++
			}
		}
		if k == 0 {
			return math.NaN()
		}
		return sum / float64(k)
	}
}

// ecsHealthy is an ecs service's healthy CPU and memory utilisation: CPU
// 18-38% with part of it in proportion to its traffic, memory 40-60%.
func (m *Sim) ecsHealthy(n *node) (cpu, mem func(time.Time) float64) {
	u := func(what string) float64 { return unit(m.key("level", n.r.ID, what)) }
	idle, busy := 6+6*u("idle"), 12+10*u("busy")
	trH := m.healthyTraffic(n.flow)
	cpu = func(t time.Time) float64 {
		ratio := 1.0
		if trH > 0 {
			ratio = m.traffic(n.flow, t) / trH
		}
		return idle + busy*ratio
	}
	level := 40 + 20*u("mem")
	return cpu, func(time.Time) float64 { return level }
}

// taskCatalogue is the healthy form of a task's metrics: the service's CPU
// and memory (cpu and mem, its healthy forms) with an offset of the
// task's own.
func (m *Sim) taskCatalogue(t *node, cpu, mem func(time.Time) float64) []*metricDef {
	svc := t.svc
	u := func(what string) float64 { return unit(m.key("level", t.r.ID, what)) }
	dCPU, dMem := 4*(u("cpu")-0.5), 4*(u("mem")-0.5)
	cpuPct := func(tt time.Time) float64 {
		return math.Max(0, m.serviceLevel(svc, nsECS, "CPUUtilization", cpu, tt)+dCPU)
	}
	memPct := func(tt time.Time) float64 {
		return math.Max(0, m.serviceLevel(svc, nsECS, "MemoryUtilization", mem, tt)+dMem)
	}
	var defs []*metricDef
	gauge := func(name string, nz noise, max float64, level func(time.Time) float64) *metricDef {
		d := &metricDef{ns: nsECSInsite, name: name, stat: "Average", noise: nz, max: max, level: level}
		defs = append(defs, d)
		return d
	}
	pctCPU := gauge("TaskCpuUtilization", noise{noiseRel, 0.06}, 100, cpuPct)
	pctMem := gauge("TaskMemoryUtilization", noise{noiseRel, 0.02}, 100, memPct)
	// The absolute forms follow the percentages, items on them included.
	gauge("CpuUtilized", noise{noiseRel, 0.01}, 0, func(tt time.Time) float64 {
		return m.levelOf(t, nsECSInsite, pctCPU.name, tt, cpuPct(tt)) / 100 * taskCPUUnits
	})
	gauge("MemoryUtilized", noise{noiseRel, 0.01}, 0, func(tt time.Time) float64 {
		return m.levelOf(t, nsECSInsite, pctMem.name, tt, memPct(tt)) / 100 * taskMemMiB
	})
	gauge("CpuReserved", noise{}, 0, func(time.Time) float64 { return taskCPUUnits })
	gauge("MemoryReserved", noise{}, 0, func(time.Time) float64 { return taskMemMiB })
	gauge("NetworkRxBytes", noise{noiseRel, 0.05}, 0, func(tt time.Time) float64 { return (m.traffic(t.flow, tt)*1800 + 300) })
	gauge("NetworkTxBytes", noise{noiseRel, 0.05}, 0, func(tt time.Time) float64 { return (m.traffic(t.flow, tt)*14000 + 250) })
	return defs
}

// taskFlows gives each listed task its share of its service's traffic.
func (m *Sim) taskFlows() {
	for _, n := range m.nodes {
		if n.svc != nil && len(n.svc.listed) > 0 {
			n.flow = vec(nil).plus(n.svc.flow, 1/float64(len(n.svc.listed)))
		}
	}
}

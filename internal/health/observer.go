package health

import "github.com/switchboard/switchboard/internal/health/state"

// Observer is told of every probe result and every transition as the
// engine records them, for metrics. Unlike Events it never drops one.
//
// The engine calls both methods with its lock held, from its probe
// goroutines: they must be safe for concurrent use, return quickly and
// never call back into the Engine (a counter increment, not I/O).
type Observer interface {
	// Probed is called for every observation recorded for k, the local
	// probes' and those given to Engine.Observe; o.Healthy is after
	// insufficient-data handling, before thresholds.
	Probed(k state.Key, o Observation)
	// Transitioned is called for every transition, the same ones Events
	// delivers: a change of health, of observed or of ejection.
	Transitioned(ev Event)
}

package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// chromium returns the path of a Chromium binary, or skips the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium found (Debian package chromium): the dashboard test needs a real browser")
	return ""
}

// artifacts is where screenshots go: $SWITCHBOARD_ARTIFACTS, else the test's TempDir.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SWITCHBOARD_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestDashboardInBrowser drives the dashboard of the real binary in
// headless Chromium: the page loads without console errors, a target shown
// healthy turns unhealthy within 2 s of its backend stopping, and a zonal
// shift started from the page takes effect in the view (seen in /metrics,
// which reads the published view), then is cancelled from the page.
func TestDashboardInBrowser(t *testing.T) {
	exe := chromium(t)
	const token = "e2e-token-0123456789abcdef"
	_, hostA, portA := stoppableBackend(t)
	backendB, hostB, portB := stoppableBackend(t)
	targetB := hostB + ":" + portB
	dir := t.TempDir()
	cfg := filepath.Join(dir, "switchboard.yaml")
	writeFile(t, cfg, observeConfig(token, hostA, portA, hostB, portB))
	p := start(t, cfg, filepath.Join(dir, "data"))

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // root in CI containers; the page is our own, on loopback
		chromedp.DisableGPU,
		chromedp.UserDataDir(filepath.Join(dir, "chromium")),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	// Start the browser and its tab, then collect the console from before
	// the page loads.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	var mu sync.Mutex
	var consoleErrors []string
	cctx, stopConsole := context.WithCancel(ctx)
	defer stopConsole()
	messages := chromedp.Console(cctx)
	consoleDone := make(chan struct{})
	go func() {
		defer close(consoleDone)
		for m, err := range messages {
			if err != nil {
				return
			}
			switch m.Type {
			case chromedp.ConsoleError, chromedp.ConsoleWarning, chromedp.ConsoleException:
				mu.Lock()
				consoleErrors = append(consoleErrors, m.String()+" at "+m.URL)
				mu.Unlock()
			}
		}
	}()
	out := artifacts(t)
	// shot saves the whole page, or with viewport only what the screen shows.
	shot := func(name string, viewport bool) {
		t.Helper()
		a := chromedp.FullScreenshot(100) // quality 100 is PNG
		if viewport {
			a = chromedp.CaptureScreenshot()
		}
		buf, err := chromedp.Run(ctx, a)
		if err != nil {
			t.Errorf("screenshot %s: %v", name, err)
			return
		}
		path := filepath.Join(out, name)
		if err := os.WriteFile(path, buf, 0o644); err != nil {
			t.Errorf("screenshot %s: %v", name, err)
			return
		}
		t.Logf("screenshot: %s", path)
	}

	healthyB := `[data-target="web/` + targetB + `"][data-status="healthy"]`
	unhealthyB := `[data-target="web/` + targetB + `"][data-status="unhealthy"]`
	if err := chromedp.Do(ctx,
		chromedp.Navigate(p.admin+"/"),
		chromedp.WaitVisible(chromedp.CSS(healthyB)),
		chromedp.WaitVisible(chromedp.CSS(`#conn.live`)),
	); err != nil {
		t.Fatalf("loading the dashboard: %v", err)
	}

	// The target shown healthy turns unhealthy on the page within 2 s of
	// its backend stopping: probes every 200 ms, two failures, one view,
	// one pushed snapshot.
	backendB.Close()
	stopped := time.Now()
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	err := chromedp.Do(wctx, chromedp.WaitVisible(chromedp.CSS(unhealthyB)))
	wcancel()
	took := time.Since(stopped)
	if err != nil {
		shot("dashboard-failed.png", false)
		t.Fatalf("target %s never shown unhealthy: %v", targetB, err)
	}
	t.Logf("target shown unhealthy %.3fs after its backend stopped", took.Seconds())
	if took > 2*time.Second {
		t.Errorf("target shown unhealthy %v after its backend stopped, want within 2s", took)
	}

	// The failover record says it answers the secondary, and why.
	// (Its check probes the same backend as the target, on its own schedule.)
	const failedOver = `(() => {
		const r = document.querySelector('tr[data-record="app.example.com. A"]');
		return r && r.querySelector('td[data-label="Answering now"]').textContent.startsWith("secondary") &&
			r.querySelector('td[data-label="Why"]').textContent.startsWith("primary unhealthy: health check backend-b: connect");
	})()`
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](failedOver, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		row, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`tr[data-record="app.example.com. A"]`)))
		t.Errorf("record group row = %q, want it to answer the secondary because the primary is unhealthy: %v", row, err)
	}

	// Accessibility basics: every control has a label or a name, the page
	// has one h1, graphics have text, and live changes are announced.
	problems, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`(() => {
		const out = [];
		for (const e of document.querySelectorAll("input, select, textarea"))
			if (!e.labels || e.labels.length === 0) out.push("unlabelled " + e.tagName + "#" + e.id);
		for (const b of document.querySelectorAll("button"))
			if (!(b.getAttribute("aria-label") || b.textContent.trim())) out.push("button without a name");
		for (const s of document.querySelectorAll("svg"))
			if (!s.getAttribute("aria-label")) out.push("svg without aria-label");
		if (document.querySelectorAll("h1").length !== 1) out.push("not one h1");
		if (!document.documentElement.lang) out.push("no lang");
		if (!document.querySelector("[aria-live]")) out.push("no aria-live region");
		return out;
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) > 0 {
		t.Errorf("accessibility problems: %v", problems)
	}
	announced, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(`#announce`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(announced, "unhealthy") {
		t.Errorf("aria-live announcement after the failure = %q, want it to announce a target or check turning unhealthy", announced)
	}

	// Start a zonal shift of target group web away from zone a from the
	// page, with the keyboard: Enter in the form submits it.
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#shift-token`), token),
		chromedp.SetValue(chromedp.CSS(`#shift-resource`), "target_group:web"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("shift-resource").dispatchEvent(new Event("change")); undefined`),
		chromedp.SetValue(chromedp.CSS(`#shift-zone`), "a"),
		chromedp.SendKeys(chromedp.CSS(`#shift-comment`), "e2e: drain zone a"+kb.Enter),
		chromedp.WaitVisible(chromedp.CSS(`[data-shift="target group web"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-group="web"] td[data-zone="a"] .badge.warn`)),
	); err != nil {
		shot("dashboard-failed.png", false)
		t.Fatalf("starting a zonal shift from the page: %v", err)
	}
	result, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#shift-result`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(result, "Desired state version 2") {
		t.Errorf("shift result on the page = %q, want it to name version 2", result)
	}
	// The view has it: /metrics reads the published view.
	poll(t, "the view shifting web away from zone a", func() bool {
		v, ok := sample(scrape(t, p.admin), "switchboard_target_group_zone_shifted", "target_group", "web", "zone", "a")
		return ok && v == 1
	})
	st := p.status(t)
	if st.ViewVersion != 2 || len(st.History) == 0 || st.History[0].Source != "dashboard" {
		t.Errorf("after the shift: view version %d, newest change %+v; want version 2 from the dashboard", st.ViewVersion, st.History)
	}
	shot("dashboard-laptop.png", false)
	// On a phone the page fits the screen's width: nothing scrolls sideways.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile)); err != nil {
		t.Fatal(err)
	}
	wide, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("body *")]
		.filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
		.map(e => e.tagName + (e.id ? "#" + e.id : "") + "." + e.className + " " + Math.round(e.getBoundingClientRect().right))
		.slice(0, 10)`))
	if err != nil {
		t.Fatal(err)
	}
	if len(wide) > 0 {
		t.Errorf("on a 390 px wide phone, elements reach beyond the screen: %v", wide)
	}
	shot("dashboard-phone.png", true)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatal(err)
	}

	// Cancel it from the page: focus the row's button and press Enter.
	if err := chromedp.Do(ctx,
		chromedp.Focus(chromedp.CSS(`[data-shift="target group web"] button`)),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitNotPresent(chromedp.CSS(`[data-shift="target group web"]`)),
	); err != nil {
		t.Fatalf("cancelling the zonal shift from the page: %v", err)
	}
	poll(t, "the view without the shift", func() bool {
		v, ok := sample(scrape(t, p.admin), "switchboard_target_group_zone_shifted", "target_group", "web", "zone", "a")
		return ok && v == 0
	})

	stopConsole()
	<-consoleDone
	mu.Lock()
	defer mu.Unlock()
	if len(consoleErrors) > 0 {
		t.Errorf("console errors and warnings:\n%s", strings.Join(consoleErrors, "\n"))
	}
}

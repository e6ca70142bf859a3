package login

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
)

// Chromium is a headless Chromium started the suite's way: Debian's build (or
// chromium on PATH), calling nobody home, the target's host names mapped as its
// resolve entries say and its certificates pinned when it has its own CA, so that
// its pages stay secure contexts (WebAuthn works), which --ignore-certificate-errors
// would break. The browser driver logs in with one; other harness packages open
// pages of their own with it (ChromiumExtra).
type Chromium struct {
	// Ctx is the browser's chromedp context: tabs are new contexts of it.
	Ctx context.Context
	// Path is the binary that runs.
	Path string

	cancel, allocCancel context.CancelFunc
	dir                 string
	closeOnce           sync.Once
}

// ChromiumExtra is what a caller maps besides the target: host-resolver rules
// ("MAP host ip:port") and the base64 SHA-256 of the SPKI of certificates to trust
// (a page the suite serves itself).
type ChromiumExtra struct {
	Rules []string
	SPKIs []string
}

// browserStartTimeout bounds Chromium's start.
const browserStartTimeout = 30 * time.Second

// StartChromium starts headless Chromium for t (ErrNoChromium when there is none);
// Close stops it.
func StartChromium(ctx context.Context, t *config.Target, extra ChromiumExtra) (*Chromium, error) {
	path, err := ChromiumPath(t)
	if err != nil {
		return nil, err
	}
	spki, err := pinnedSPKIs(ctx, t)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "myaccount-chromium-")
	if err != nil {
		return nil, err
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		// Without these Chromium calls home, and this network refuses it.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(dir),
		chromedp.Env("HOME=" + dir),
	}
	if rules := joinNonEmpty(append([]string{hostResolverRules(t)}, extra.Rules...)); rules != "" {
		opts = append(opts, chromedp.Flag("host-resolver-rules", rules))
	}
	if pins := joinNonEmpty(append([]string{spki}, extra.SPKIs...)); pins != "" {
		// Trust exactly these certificates besides the system's: the pages stay
		// secure contexts, which --ignore-certificate-errors would break.
		opts = append(opts, chromedp.Flag("ignore-certificate-errors-spki-list", pins))
	}
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancel := chromedp.NewContext(allocCtx)
	c := &Chromium{Ctx: bctx, Path: path, cancel: cancel, allocCancel: allocCancel, dir: dir}
	// The first Do starts the process, which lives as long as bctx: bound the
	// start with a timer, not with a derived context.
	timer := time.AfterFunc(browserStartTimeout, cancel)
	err = chromedp.Do(bctx)
	stopped := !timer.Stop()
	if err != nil || stopped {
		_ = c.Close()
		if err == nil {
			err = context.DeadlineExceeded
		}
		return nil, fmt.Errorf("starting Chromium (%s): %w", path, err)
	}
	return c, nil
}

// Close stops Chromium and removes its profile.
func (c *Chromium) Close() error {
	c.closeOnce.Do(func() {
		c.cancel()
		c.allocCancel()
		_ = os.RemoveAll(c.dir)
	})
	return nil
}

// joinNonEmpty joins the non-empty items with "," (both flags' list separator;
// Chromium trims the spaces around items).
func joinNonEmpty(items []string) string {
	var out []string
	for _, s := range items {
		if s != "" {
			out = append(out, s)
		}
	}
	return strings.Join(out, ",")
}

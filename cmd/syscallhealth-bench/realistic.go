//go:build linux

package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// A realisticSample is one wrk run against nginx under one configuration.
type realisticSample struct {
	requestsPerSecond float64
	cpuPerRequestUs   float64 // nginx worker CPU (user+system) per request
}

const (
	wrkDuration    = 4 * time.Second
	wrkConnections = 16
)

// runRealistic serves a small static file with Debian's nginx on loopback (one worker pinned to CPU 0) and
// loads it with wrk (pinned to CPU 1) under each configuration, interleaved like the syscall cases: every
// request costs nginx accept4, recvfrom, openat, fstat, sendfile, writev and close.
func (b *bench) runRealistic() (map[string][]realisticSample, error) {
	nginx, err := startNginx(b.work)
	if err != nil {
		return nil, err
	}
	defer nginx.stop()
	res := map[string][]realisticSample{}
	err = b.interleaved("realistic", func(cfg configuration) error {
		s, err := nginx.load(b.wrk)
		if err != nil {
			return fmt.Errorf("wrk under %s: %w", cfg.name, err)
		}
		res[cfg.name] = append(res[cfg.name], s)
		return nil
	})
	return res, err
}

type nginxServer struct {
	cmd    *exec.Cmd
	url    string
	worker int
}

func startNginx(work string) (*nginxServer, error) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		return nil, fmt.Errorf("nginx not found (apt-get install nginx): %w", err)
	}
	dir := filepath.Join(work, "nginx")
	www := filepath.Join(dir, "www")
	if err := os.MkdirAll(www, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(www, "index.html"), []byte(strings.Repeat("syscallhealth\n", 73)), 0o644); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`daemon off;
user root;
worker_processes 1;
worker_cpu_affinity 01;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  server {
    listen 127.0.0.1:%[2]d;
    root %[3]s;
  }
}
`, dir, port, www)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-c", confPath, "-p", dir, "-e", filepath.Join(dir, "error.log"))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &nginxServer{cmd: cmd, url: fmt.Sprintf("http://127.0.0.1:%d/index.html", port)}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			if s.worker, err = onlyChild(cmd.Process.Pid); err == nil {
				return s, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.stop()
	return nil, fmt.Errorf("nginx did not serve %s within 10s (see %s/error.log)", s.url, dir)
}

func (s *nginxServer) stop() {
	s.cmd.Process.Signal(os.Interrupt)
	waitOrKill(s.cmd, 10*time.Second)
}

var requestsPerSecond = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)

// load runs wrk once and returns its throughput and the nginx worker's CPU per request.
func (s *nginxServer) load(wrk string) (realisticSample, error) {
	before, err := processCPU(s.worker)
	if err != nil {
		return realisticSample{}, err
	}
	out, err := exec.Command("taskset", "-c", "1", wrk, "-t1", "-c"+strconv.Itoa(wrkConnections),
		"-d"+wrkDuration.String(), s.url).CombinedOutput()
	if err != nil {
		return realisticSample{}, fmt.Errorf("%v: %s", err, out)
	}
	after, err := processCPU(s.worker)
	if err != nil {
		return realisticSample{}, err
	}
	m := requestsPerSecond.FindSubmatch(out)
	if m == nil {
		return realisticSample{}, fmt.Errorf("no Requests/sec in wrk output: %s", out)
	}
	rps, _ := strconv.ParseFloat(string(m[1]), 64)
	requests := rps * wrkDuration.Seconds()
	return realisticSample{
		requestsPerSecond: rps,
		cpuPerRequestUs:   (after - before).Seconds() * 1e6 / requests,
	}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Test helper: a Go program with a known leak site. leakDial opens connections with
// net.Dial and never closes them; tidyDial opens as many and closes each. Prints READY,
// then waits for stdin to close. Usage: sl_go_leaker PORT COUNT [http|exit-at-eof]
// http: leakGet issues http.Get and never closes the response bodies (the classic Go
// CLOSE_WAIT leak); net/http dials those connections on a transport goroutine.
// exit-at-eof: instead of waiting for stdin, waits until the server has closed every leaked
// connection (each is then CLOSE_WAIT) and exits: no race with a timer however slow the host.
package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

// Kept reachable: an unreachable net.Conn would be closed by its finalizer.
var leaked []net.Conn
var leakedResponses []*http.Response

//go:noinline
func leakGet(url string, n int) {
	for i := 0; i < n; i++ {
		resp, err := http.Get(url)
		if err != nil {
			panic(err)
		}
		leakedResponses = append(leakedResponses, resp) // the leak: Body never closed
	}
}

//go:noinline
func leakDial(addr string, n int) {
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			panic(err)
		}
		leaked = append(leaked, c) // the leak: never closed
	}
}

//go:noinline
func tidyDial(addr string, n int) {
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			panic(err)
		}
		c.Close()
	}
}

// awaitPeerClose reads each connection until the peer's FIN (EOF): reading leaves the
// socket in CLOSE_WAIT, only close() would move it on. Bounded by the deadline.
func awaitPeerClose(conns []net.Conn, limit time.Duration) {
	deadline := time.Now().Add(limit)
	buf := make([]byte, 512)
	for _, c := range conns {
		c.SetReadDeadline(deadline)
		for {
			if _, err := c.Read(buf); err != nil {
				break
			}
		}
	}
}

func main() {
	addr := "127.0.0.1:" + os.Args[1]
	n := 10
	fmt.Sscan(os.Args[2], &n)
	if len(os.Args) > 3 && os.Args[3] == "http" {
		leakGet("http://"+addr+"/", n)
		fmt.Println("READY")
		bufio.NewReader(os.Stdin).ReadString('\n')
		return
	}
	leakDial(addr, n)
	tidyDial(addr, n)
	if len(os.Args) > 3 && os.Args[3] == "exit-at-eof" {
		awaitPeerClose(leaked, 60*time.Second)
		return
	}
	fmt.Println("READY")
	bufio.NewReader(os.Stdin).ReadString('\n')
}

// Test helper: a Go program with a known leak site. leakDial opens connections with
// net.Dial and never closes them; tidyDial opens as many and closes each. Prints READY,
// then waits for stdin to close. Usage: sl_go_leaker PORT COUNT [http]
// http: leakGet issues http.Get and never closes the response bodies (the classic Go
// CLOSE_WAIT leak); net/http dials those connections on a transport goroutine.
package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
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
	fmt.Println("READY")
	bufio.NewReader(os.Stdin).ReadString('\n')
}

package testport

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/yakt/yakt/internal/vfs"
)

func TestAddrHandsOutEachPortOnceAndHoldsItsLock(t *testing.T) {
	lo, hi := 32768, 60999
	if b, err := os.ReadFile(ephemeralRangeFile); err == nil {
		if lo, hi, err = parsePortRange(string(b)); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for range 50 {
		addr := Addr(t)
		if seen[addr] {
			t.Fatalf("%s handed out twice", addr)
		}
		seen[addr] = true
		_, p, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatal(err)
		}
		port, _ := strconv.Atoi(p)
		if port < portFloor || (port >= lo && port <= hi) {
			t.Fatalf("port %d is below %d or in the kernel's ephemeral range %d-%d", port, portFloor, lo, hi)
		}
		// Another process (flock is per open file) cannot take it.
		f, err := os.Open(filepath.Join(Dir, p+".lock"))
		if err != nil {
			t.Fatal(err)
		}
		err = vfs.Flock(f)
		f.Close()
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			t.Fatalf("lock of port %d: %v, want it held (EWOULDBLOCK)", port, err)
		}
		// And it is free to bind.
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("reserved %s cannot be bound: %v", addr, err)
		}
		l.Close()
	}
}

func TestPortRoomRefusesAnEphemeralRangeThatLeavesNoRoom(t *testing.T) {
	if _, err := portRoom(1024, 65535); err == nil || !strings.Contains(err.Error(), "ip_local_port_range") {
		t.Fatalf("portRoom(1024, 65535) = %v, want an error saying how to make room", err)
	}
	if _, err := portRoom(10500, 65000); err == nil {
		t.Fatal("portRoom(10500, 65000) accepted 1,035 ports")
	}
	got, err := portRoom(32768, 60999)
	if err != nil {
		t.Fatal(err)
	}
	if want := [][2]int{{portFloor, 32767}, {61000, 65535}}; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("portRoom(32768, 60999) = %v, want %v", got, want)
	}
	if got, err := portRoom(1024, 30000); err != nil || len(got) != 1 || got[0] != [2]int{30001, 65535} {
		t.Fatalf("portRoom(1024, 30000) = %v, %v", got, err)
	}
}

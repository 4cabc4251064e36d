package scalebench

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ProcStat is a process's memory and CPU, from /proc (Linux).
type ProcStat struct {
	RSS, HWM int64 // bytes: VmRSS now, VmHWM (peak RSS of the process so far)
	CPUTicks int64 // utime + stime, in USER_HZ ticks
}

// userHZ is the unit of utime and stime in /proc/<pid>/stat: fixed at 100
// by the kernel's ABI whatever the kernel's own tick rate.
const userHZ = 100

// CPUSeconds converts ticks to seconds.
func CPUSeconds(ticks int64) float64 { return float64(ticks) / userHZ }

// ReadProc reads pid's /proc/<pid>/status and /proc/<pid>/stat.
func ReadProc(pid int) (ProcStat, error) {
	var st ProcStat
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return st, fmt.Errorf("read process %d status: %w", pid, err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			return st, fmt.Errorf("process %d: unexpected %s line %q", pid, k, line)
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return st, fmt.Errorf("process %d: %s: %w", pid, k, err)
		}
		if k == "VmRSS" {
			st.RSS = n * 1024
		} else {
			st.HWM = n * 1024
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return st, fmt.Errorf("read process %d stat: %w", pid, err)
	}
	// The command name (field 2) may hold spaces and parentheses; the
	// fields after its closing parenthesis are plain numbers.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return st, fmt.Errorf("process %d: malformed stat %q", pid, stat)
	}
	f := strings.Fields(string(stat[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return st, fmt.Errorf("process %d: short stat %q", pid, stat)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	stt, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return st, fmt.Errorf("process %d: bad utime/stime in %q", pid, stat)
	}
	st.CPUTicks = ut + stt
	return st, nil
}

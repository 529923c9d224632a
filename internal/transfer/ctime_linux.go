package transfer

import (
	"os"
	"syscall"
)

// changeTime is the file's status change time (st_ctime), which no user can set.
func changeTime(fi os.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ctim.Nano()
	}
	return 0
}

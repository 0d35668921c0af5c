// gocheck is Go bbolt as a second reader of the databases Witchbolt writes.
//
// It is built offline from Debian's bbolt 1.3.6 source (GO111MODULE=off,
// GOPATH=/usr/share/gocode) by scripts/build-gocheck.sh, and tests call it through
// $WITCHBOLT_GOCHECK:
//
//	gocheck check PATH   opens PATH read-only, runs tx.Check(); prints OK, or each error (exit 1)
//	gocheck export PATH  prints the whole content in the export format of shared/fixtures/README.md
//
// Exit codes: 0 success; 1 check errors, or no answer within the deadline; 2 usage, open or
// read failure (and a Go panic inside bbolt, which exits 2 as well).
//
// bbolt 1.3.6 trusts the pages it walks: on some corrupt files its cursor loops forever. A
// watchdog therefore ends the run after GOCHECK_TIMEOUT_SECONDS (default 300) so that a test
// fails instead of hanging.
package main

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

func main() {
	if len(os.Args) != 3 || (os.Args[1] != "check" && os.Args[1] != "export") {
		fmt.Fprintln(os.Stderr, "usage: gocheck check|export PATH")
		os.Exit(2)
	}
	path := os.Args[2]
	startWatchdog(os.Args[1], path)

	// Open read-only with a timeout so that a database locked by a writer fails instead of hanging.
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		fmt.Fprintf(os.Stderr, "gocheck: open %s: %v\n", path, err)
		os.Exit(2)
	}
	defer db.Close()

	switch os.Args[1] {
	case "check":
		os.Exit(check(db))
	case "export":
		if err := export(db); err != nil {
			fmt.Fprintf(os.Stderr, "gocheck: export %s: %v\n", path, err)
			os.Exit(2)
		}
	}
}

// startWatchdog exits with status 1 when the command has not finished within the deadline.
func startWatchdog(command, path string) {
	seconds := 300
	if s := os.Getenv("GOCHECK_TIMEOUT_SECONDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "gocheck: GOCHECK_TIMEOUT_SECONDS must be a positive integer, got %q\n", s)
			os.Exit(2)
		}
		seconds = n
	}
	time.AfterFunc(time.Duration(seconds)*time.Second, func() {
		fmt.Printf("%s %s: no answer within %d s (bbolt 1.3.6 loops on some corrupt pages)\n", command, path, seconds)
		os.Exit(1)
	})
}

// check runs bbolt's consistency check and prints OK or every error it reports.
func check(db *bolt.DB) int {
	count := 0
	err := db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			fmt.Println(err)
			count++
		}
		return nil
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "gocheck: check: %v\n", err)
		return 2
	}
	if count > 0 {
		fmt.Printf("%d errors found\n", count)
		return 1
	}
	fmt.Println("OK")
	return 0
}

// export prints every bucket and key/value pair in cursor order, depth first.
func export(db *bolt.DB) error {
	out := bufio.NewWriterSize(os.Stdout, 1<<20)
	err := db.View(func(tx *bolt.Tx) error {
		// The root holds only buckets; each one's line is followed at once by its contents.
		c := tx.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			b := tx.Bucket(k)
			if b == nil {
				return fmt.Errorf("root entry %x is not a bucket", k)
			}
			writeBucket(out, nil, k, b)
			if err := exportBucket(out, [][]byte{k}, b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return out.Flush()
}

// exportBucket prints the contents of b, whose bucket path from the root is path.
func exportBucket(out *bufio.Writer, path [][]byte, b *bolt.Bucket) error {
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		// A nil value marks a nested bucket: its line, then its own contents.
		if v == nil {
			child := b.Bucket(k)
			if child == nil {
				return fmt.Errorf("entry %x has no value and is not a bucket", k)
			}
			writeBucket(out, path, k, child)
			if err := exportBucket(out, append(append([][]byte{}, path...), k), child); err != nil {
				return err
			}
			continue
		}
		writePath(out, path)
		out.WriteString(`,"key":"`)
		out.WriteString(hex.EncodeToString(k))
		out.WriteString(`","value":"`)
		out.WriteString(hex.EncodeToString(v))
		out.WriteString("\"}\n")
	}
	return nil
}

// writeBucket prints a bucket's line: its parent path, hex name and sequence.
func writeBucket(out *bufio.Writer, path [][]byte, name []byte, b *bolt.Bucket) {
	writePath(out, path)
	out.WriteString(`,"bucket":"`)
	out.WriteString(hex.EncodeToString(name))
	out.WriteString(`","sequence":`)
	out.WriteString(strconv.FormatUint(b.Sequence(), 10))
	out.WriteString("}\n")
}

// writePath opens a line with `{"path":[...]` holding the hex bucket names.
func writePath(out *bufio.Writer, path [][]byte) {
	out.WriteString(`{"path":[`)
	for i, p := range path {
		if i > 0 {
			out.WriteByte(',')
		}
		out.WriteByte('"')
		out.WriteString(hex.EncodeToString(p))
		out.WriteByte('"')
	}
	out.WriteByte(']')
}

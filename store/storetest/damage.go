package storetest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
)

// The damage a test does to a bbolt file, as a disk, a crash of the
// filesystem or a careless copy would.
const (
	// SmashFreelist overwrites the page of the file's freelist with
	// garbage: bbolt panics opening it ("invalid freelist page").
	SmashFreelist = "smashed freelist page"
	// SmashData overwrites every page but the meta pages and the freelist
	// with garbage: the buckets cannot be read.
	SmashData = "smashed data pages"
	// Truncate cuts the file to half of the pages in use.
	Truncate = "truncated"
)

// Damages are the damages Damage does.
var Damages = []string{SmashFreelist, SmashData, Truncate}

// boltMeta is what Damage reads of a bbolt file's current meta page.
type boltMeta struct {
	pageSize uint32
	freelist uint64 // its page
	pgid     uint64 // the high-water mark: pages in use
}

// readMeta reads the meta page with the higher transaction id. A bbolt page
// has a 16-byte header; a meta is magic, version, page size, flags (4 bytes
// each), the root bucket (16), the freelist's page, the high-water mark and
// the transaction id (8 each).
func readMeta(f *os.File) (boltMeta, error) {
	var best boltMeta
	var bestTx uint64
	buf := make([]byte, 96)
	pageSize := int64(0)
	for i := range int64(2) {
		if _, err := f.ReadAt(buf, i*pageSize); err != nil {
			return best, err
		}
		m := buf[16:]
		if binary.LittleEndian.Uint32(m) != 0xED0CDAED {
			return best, fmt.Errorf("meta page %d: not a bbolt file", i)
		}
		ps := binary.LittleEndian.Uint32(m[8:])
		pageSize = int64(ps)
		tx := binary.LittleEndian.Uint64(m[48:])
		if i == 0 || tx > bestTx {
			best = boltMeta{pageSize: ps, freelist: binary.LittleEndian.Uint64(m[32:]), pgid: binary.LittleEndian.Uint64(m[40:])}
			bestTx = tx
		}
	}
	return best, nil
}

// Damage does one of Damages to the bbolt file at path, which must not be
// open for writing (a bot may have it open: the pages it maps change under
// it).
func Damage(path, damage string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	m, err := readMeta(f)
	if err != nil {
		return fmt.Errorf("damage %s: %w", path, err)
	}
	junk := make([]byte, m.pageSize)
	for i := range junk {
		junk[i] = 0xAB
	}
	smash := func(pg uint64) error {
		_, err := f.WriteAt(junk, int64(pg)*int64(m.pageSize))
		return err
	}
	switch damage {
	case SmashFreelist:
		err = smash(m.freelist)
	case SmashData:
		for pg := uint64(2); pg < m.pgid && err == nil; pg++ {
			if pg != m.freelist {
				err = smash(pg)
			}
		}
	case Truncate:
		err = f.Truncate(int64(m.pgid/2) * int64(m.pageSize))
	default:
		err = errors.New("unknown damage")
	}
	if err != nil {
		return fmt.Errorf("damage %s: %s: %w", path, damage, err)
	}
	return f.Sync()
}

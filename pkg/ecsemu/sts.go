package ecsemu

import (
	"encoding/base64"
	"time"
)

// stsTimeFormat is the metadata service's Expiration/LastUpdated format.
const stsTimeFormat = "2006-01-02T15:04:05Z"

// STSCredential is one set of temporary credentials of the instance RAM
// role, as the metadata service serves them.
type STSCredential struct {
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string
	Issued          time.Time
	Expiration      time.Time
}

// stsState holds every set issued (expired ones too, so a late caller gets
// InvalidSecurityToken.Expired rather than an unknown key) and the current one.
type stsState struct {
	byKey   map[string]*STSCredential
	current *STSCredential
}

// currentCredential returns the set the metadata service serves now,
// issuing a fresh one when there is none or the current one is within
// RefreshBefore of expiry. The previous set stays valid until it expires,
// as with the real service. Callers hold e.mu.
func (e *Emulator) currentCredential(now time.Time) *STSCredential {
	role := e.sc.RAMRole
	if role == nil {
		return nil
	}
	if c := e.sts.current; c != nil && now.Before(c.Expiration.Add(-role.RefreshBefore.D())) {
		return c
	}
	issued := now.Truncate(time.Second)
	c := &STSCredential{
		AccessKeyID:     "STS.NT" + e.randomString(22, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
		AccessKeySecret: e.randomString(44, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
		SecurityToken:   "CAIS" + e.randomToken(180),
		Issued:          issued,
		Expiration:      issued.Add(role.CredentialTTL.D()),
	}
	if e.sts.byKey == nil {
		e.sts.byKey = map[string]*STSCredential{}
	}
	e.sts.byKey[c.AccessKeyID] = c
	e.sts.current = c
	e.log.Info("issued STS credentials", "access_key_id", c.AccessKeyID, "expiration", c.Expiration.Format(stsTimeFormat))
	return c
}

// CurrentCredentials returns the STS credentials the metadata service
// serves now (issuing them if due); ok is false without a RAM role.
func (e *Emulator) CurrentCredentials() (STSCredential, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.currentCredential(e.clock.Now())
	if c == nil {
		return STSCredential{}, false
	}
	return *c, true
}

// ExpireCredentials makes every STS credential issued so far expire now:
// the API rejects them with InvalidSecurityToken.Expired and the metadata
// service serves a fresh set on its next read.
func (e *Emulator) ExpireCredentials() {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.clock.Now()
	for _, c := range e.sts.byKey {
		if c.Expiration.After(now) {
			c.Expiration = now
		}
	}
	e.sts.current = nil
}

// RotateCredentials makes the metadata service serve a fresh set now; the
// previous set stays valid until its own expiry.
func (e *Emulator) RotateCredentials() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sts.current = nil
	e.currentCredential(e.clock.Now())
}

func (e *Emulator) randomString(n int, alphabet string) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[e.rng.IntN(len(alphabet))]
	}
	return string(b)
}

// randomToken returns base64 text of about n characters.
func (e *Emulator) randomToken(n int) string {
	raw := make([]byte, n*3/4)
	for i := range raw {
		raw[i] = byte(e.rng.IntN(256))
	}
	return base64.StdEncoding.EncodeToString(raw)
}

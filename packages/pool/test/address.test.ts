import { describe, expect, it } from 'vitest'
import { addressKey } from '../src/index.ts'

describe('addressKey', () => {
  it('keeps IPv4 as it is', () => {
    expect(addressKey('203.0.113.7')).toBe('203.0.113.7')
  })

  it('counts IPv4-mapped IPv6 as the IPv4 address, in either spelling', () => {
    expect(addressKey('::ffff:203.0.113.7')).toBe('203.0.113.7')
    expect(addressKey('::FFFF:203.0.113.7')).toBe('203.0.113.7')
    expect(addressKey('::ffff:cb00:7107')).toBe('203.0.113.7')
    expect(addressKey('0:0:0:0:0:ffff:cb00:7107')).toBe('203.0.113.7')
  })

  it('groups IPv6 by /64 by default, whatever the spelling', () => {
    const a = addressKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd')
    expect(a).toBe('2001:db8:1:2::/64')
    expect(addressKey('2001:0DB8:0001:0002::1')).toBe(a)
    expect(addressKey('2001:db8:1:3::1')).not.toBe(a)
  })

  it('takes other prefixes, including ones inside a group and /128', () => {
    expect(addressKey('2001:db8:abcd:ef01::1', 48)).toBe('2001:db8:abcd::/48')
    expect(addressKey('2001:db8:abff::1', 36)).toBe('2001:db8:a000::/36')
    expect(addressKey('2001:db8::1', 128)).toBe('2001:db8::1')
    expect(addressKey('2001:db8:0:0:1:0:0:1', 128)).toBe('2001:db8::1:0:0:1')
  })

  it('drops a zone and handles loopback and embedded IPv4', () => {
    expect(addressKey('fe80::1%eth0')).toBe('fe80::/64')
    expect(addressKey('::1', 128)).toBe('::1')
    expect(addressKey('64:ff9b::192.0.2.1', 128)).toBe('64:ff9b::c000:201')
  })

  it('returns anything that is not an address unchanged, and undefined as ""', () => {
    expect(addressKey('not:an:address:zz')).toBe('not:an:address:zz')
    expect(addressKey('1::2::3')).toBe('1::2::3')
    expect(addressKey(undefined)).toBe('')
  })
})

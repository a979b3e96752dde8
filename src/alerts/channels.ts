/**
 * Sending one alert on its channel: a signed POST to the partner's notification endpoint (the
 * dispatcher's sender: Standard Webhooks, no redirects, the address policy at connect time) or an
 * email over SMTP (nodemailer). Never throws: every outcome is a result, as for deliveries.
 */
import nodemailer from 'nodemailer';
import type { AlertOutcome, ClaimedAlert } from '../storage/store.js';
import type { RetryPolicy } from '../webhooks/dispatcher/retry-policy.js';
import type { Sender } from '../webhooks/dispatcher/sender.js';
import { type AlertEvent, alertSummary } from './events.js';

/** Sends an email; resolves when the SMTP server accepted it. */
export type Mailer = (message: { to: string; subject: string; text: string; id: string }) => Promise<void>;

/**
 * A mailer on `SMTP_URL` (`smtp://user:pass@host:587`, `smtps://…`), from `from`.
 *
 * @example
 * const mail = createMailer('smtp://127.0.0.1:2525', 'alerts@tpcs.example', 15_000);
 */
export function createMailer(smtpUrl: string, from: string, timeoutMs: number): Mailer & { close(): void } {
  const url = new URL(smtpUrl);
  const transport = nodemailer.createTransport({
    host: url.hostname,
    port: url.port === '' ? (url.protocol === 'smtps:' ? 465 : 587) : Number(url.port),
    secure: url.protocol === 'smtps:',
    ...(url.username === ''
      ? {}
      : { auth: { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } }),
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
  });
  const mail = async (m: { to: string; subject: string; text: string; id: string }) => {
    await transport.sendMail({
      from,
      to: m.to,
      subject: m.subject,
      text: m.text,
      headers: { 'X-Tpcs-Alert-Id': m.id },
    });
  };
  return Object.assign(mail, { close: () => transport.close() });
}

/** The email for an alert: its summary as the subject, what happened and the alert's JSON. */
export function alertEmail(event: AlertEvent): { subject: string; text: string } {
  const subject = `[tpcs] ${alertSummary(event)}`;
  const lines = Object.entries(event.data).map(
    ([key, value]) =>
      `${key}: ${typeof value === 'object' && value !== null ? JSON.stringify(value) : value}`,
  );
  const text = `${alertSummary(event)}.\n\n${lines.join('\n')}\n\nThe alert (${event.event_type}, ${event.event_timestamp}):\n${JSON.stringify(event, null, 2)}\n`;
  return { subject, text };
}

export interface ChannelDeps {
  sender: Sender;
  /** Absent when `SMTP_URL` is not set: email alerts are skipped, saying so. */
  mailer: Mailer | undefined;
  policy: RetryPolicy;
}

/**
 * Sends one claimed alert and says what to record.
 *
 * @example
 * const outcome = await sendAlert(alert, { sender, mailer, policy }, new Date());
 * await store.settleAlert(alert.id, outcome, new Date());
 */
export async function sendAlert(alert: ClaimedAlert, deps: ChannelDeps, now: Date): Promise<AlertOutcome> {
  const event = JSON.parse(alert.payload) as AlertEvent;
  const s = alert.settings;
  const retry = (target: string, error: string): AlertOutcome => {
    const next = deps.policy.next(alert.attemptCount + 1);
    return next.retry
      ? { status: 'pending', nextAttemptAt: new Date(now.getTime() + next.delayMs), target, error }
      : { status: 'failed', target, error };
  };
  if (alert.channel === 'webhook') {
    const url = s?.webhookUrl ?? null;
    if (url === null || !s?.webhookSecret) {
      return { status: 'skipped', target: null, error: 'no notification endpoint is set' };
    }
    // never to the endpoint the alert is about: it is the one failing
    if (url === alert.endpointUrl || url === event.data.url) {
      return {
        status: 'skipped',
        target: url,
        error: 'the notification endpoint is the endpoint alerted about',
      };
    }
    const result = await deps.sender.send({
      url,
      messageId: alert.eventId,
      payload: alert.payload,
      secrets: [s.webhookSecret],
      poolKey: `alerts:${alert.customerId}`,
    });
    const code = result.statusCode;
    if (code !== null && code >= 200 && code < 300) return { status: 'sent', target: url, error: null };
    return retry(url, code === null ? `${result.errorKind}: ${result.errorMessage}` : `HTTP ${code}`);
  }
  const to = s?.email ?? null;
  if (to === null) return { status: 'skipped', target: null, error: 'no email address is set' };
  if (!deps.mailer) return { status: 'skipped', target: to, error: 'SMTP_URL is not set' };
  try {
    await deps.mailer({ to, id: alert.eventId, ...alertEmail(event) });
    return { status: 'sent', target: to, error: null };
  } catch (err) {
    return retry(to, `smtp: ${(err as Error).message}`);
  }
}

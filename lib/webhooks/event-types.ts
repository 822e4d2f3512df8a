// What a Samsara webhook delivers (webhooks 2.0, the "event subscriptions" envelope), as Samsara's
// API reference and its official SDK's types list it. Nothing here reads a request.

/**
 * The event types a Samsara webhook can subscribe to (`eventTypes` of `POST /webhooks`): the 35 of
 * Samsara's API reference. None announces an install or an uninstall of an app.
 *
 * @example
 * ```ts
 * await client.webhooks.postWebhooks({ name, url, eventTypes: ['VehicleCreated', 'DvirSubmitted'] });
 * SAMSARA_WEBHOOK_EVENT_TYPES.includes(type); // false for a type this package does not know yet
 * ```
 */
export const SAMSARA_WEBHOOK_EVENT_TYPES = Object.freeze([
  'AddressCreated',
  'AddressDeleted',
  'AddressUpdated',
  'AlertIncident',
  'AlertObjectEvent',
  'DocumentSubmitted',
  'DriverCreated',
  'DriverUpdated',
  'DvirSubmitted',
  'EngineFaultOff',
  'EngineFaultOn',
  'FormSubmitted',
  'FormUpdated',
  'GatewayUnplugged',
  'GeofenceEntry',
  'GeofenceExit',
  'IssueCreated',
  'MissingDvirPastDue',
  'PredictiveMaintenanceAlert',
  'RouteStopArrival',
  'RouteStopDeparture',
  'RouteStopEarlyLateArrival',
  'RouteStopEtaUpdated',
  'RouteStopResequence',
  'SevereSpeedingEnded',
  'SevereSpeedingStarted',
  'ShipmentTrackingEvent',
  'SpeedingEventEnded',
  'SpeedingEventStarted',
  'SuddenFuelLevelDrop',
  'SuddenFuelLevelRise',
  'VehicleCreated',
  'VehicleUpdated',
  'VisualSearchMatch',
  'WorkOrderCreatedOrChanged',
] as const);

/**
 * One of {@link SAMSARA_WEBHOOK_EVENT_TYPES}.
 *
 * @example
 * ```ts
 * const wanted: SamsaraWebhookEventType[] = ['RouteStopArrival', 'RouteStopDeparture'];
 * ```
 */
export type SamsaraWebhookEventType = (typeof SAMSARA_WEBHOOK_EVENT_TYPES)[number];

/**
 * The webhook versions `POST /webhooks` accepts.
 *
 * @example
 * ```ts
 * await client.webhooks.postWebhooks({ name, url, version: SAMSARA_WEBHOOK_VERSIONS.at(-1) });
 * ```
 */
export const SAMSARA_WEBHOOK_VERSIONS = Object.freeze([
  '2018-01-01',
  '2021-06-09',
  '2022-09-13',
  '2024-02-27',
] as const);

/**
 * One of {@link SAMSARA_WEBHOOK_VERSIONS}.
 */
export type SamsaraWebhookVersion = (typeof SAMSARA_WEBHOOK_VERSIONS)[number];

/**
 * A verified delivery: Samsara's webhooks 2.0 envelope, as {@link verifySamsaraWebhook} returns
 * it and the receiver hands it to a handler. `data` is the event's own object, whose shape
 * depends on the type (see Samsara's reference for each); it is passed on as Samsara sent it.
 * The union is over the known types; a type Samsara adds later still verifies, and reaches the
 * receiver's `default` handler.
 *
 * @example
 * ```ts
 * const event = verifySamsaraWebhook({ body, headers, secret });
 * if (event.eventType === 'VehicleCreated') console.log(String(event.orgId), event.data);
 * ```
 */
export type SamsaraWebhookEvent<T extends SamsaraWebhookEventType = SamsaraWebhookEventType> = {
  [K in T]: SamsaraWebhookEnvelope<K>;
}[T];

/**
 * The fields of every webhooks 2.0 delivery, for one event type.
 *
 * @example
 * ```ts
 * function onArrival(event: SamsaraWebhookEnvelope<'RouteStopArrival'>): void {
 *   console.log(event.eventId, event.eventTime);
 * }
 * ```
 */
export interface SamsaraWebhookEnvelope<T extends string> {
  /** Unique per event; a retry of the same event carries the same id (what deduplication keys on). */
  eventId: string;
  /** When the event happened, RFC 3339 (`2024-05-01T12:00:00.000Z`). */
  eventTime: string;
  eventType: T;
  /** The organization's id, a number: `String(event.orgId)` is its token store key. */
  orgId: number;
  /** The webhook that delivered the event. */
  webhookId: string;
  data: Record<string, unknown>;
}

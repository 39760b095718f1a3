/**
 * The built-in demo: the restaurant-ordering company of the seeds (restaurants, their
 * dishes, clients and their orders with a state machine), plus the two operations of
 * seed 004's non-resource scenarios. `npx carte serve` serves it.
 */
import { defineApi } from '../schema/define.js';
import type { Json } from '../schema/types.js';

/** Fixed demo rates against the euro (no network is needed to convert). */
export const DEMO_RATES: Readonly<Record<string, number>> = { EUR: 1, USD: 1.08, GBP: 0.85, JPY: 162.5, CHF: 0.96 };

const CURRENCY = { type: 'string', enum: Object.keys(DEMO_RATES) } as const;

export const demoSchema = defineApi({
  api: {
    name: 'Fake Company',
    version: 1,
    description: 'The restaurant analogy of the API design guides: clients order dishes from restaurants and wait for their orders.',
  },
  resources: {
    restaurants: {
      singular: 'restaurant',
      description: 'Restaurants that take orders.',
      maxRange: 50,
      access: { read: 'public', write: 'scope' },
      required: ['name', 'type'],
      indexes: [['type', 'rating']],
      fields: {
        name: { type: 'string', minLength: 1, maxLength: 200, search: true, examples: ['Pizzeria Napoli'] },
        type: { type: 'string', enum: ['thai', 'chinese', 'japanese', 'italian', 'french', 'indian'], index: true },
        rating: { type: 'integer', minimum: 0, maximum: 5, index: true },
        reviews: { type: 'integer', minimum: 0, default: 0 },
        days: { type: 'array', items: { type: 'string', enum: ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] }, uniqueItems: true },
        zipcode: { type: 'string', pattern: '^[0-9]{5}$', search: true },
        address: {
          type: 'object',
          properties: {
            street: { type: 'string', maxLength: 200 },
            city: { type: 'string', maxLength: 100 },
          },
        },
        photo: { type: 'blob', mediaTypes: ['image/jpeg', 'image/png'], maxBytes: 5_000_000 },
        createdAt: { type: 'string', format: 'date-time', readOnly: true },
        updatedAt: { type: 'string', format: 'date-time', readOnly: true },
      },
    },
    dishes: {
      singular: 'dish',
      description: 'What a restaurant cooks.',
      access: { read: 'public', write: 'scope' },
      required: ['restaurantId', 'name', 'price'],
      fields: {
        restaurantId: { type: 'integer', references: 'restaurants', onDelete: 'cascade' },
        name: { type: 'string', minLength: 1, maxLength: 200, search: true, examples: ['Pizza margherita'] },
        price: { type: 'number', minimum: 0, index: true },
        vegetarian: { type: 'boolean', default: false },
        tags: { type: 'array', items: { type: 'string' } },
      },
    },
    clients: {
      singular: 'client',
      description: 'People who order.',
      access: { read: 'public', write: 'scope' },
      required: ['name', 'email'],
      fields: {
        firstname: { type: 'string', maxLength: 100, examples: ['Ada'] },
        name: { type: 'string', minLength: 1, maxLength: 100, search: true, examples: ['Lovelace'] },
        email: { type: 'string', format: 'email', index: 'unique', examples: ['ada.lovelace@example.com'] },
        phone: { type: 'string', maxLength: 30 },
        address: {
          type: 'object',
          properties: {
            street: { type: 'string', maxLength: 200 },
            city: { type: 'string', maxLength: 100 },
            zipCode: { type: 'string', maxLength: 10 },
          },
        },
        createdAt: { type: 'string', format: 'date-time', readOnly: true },
      },
    },
    orders: {
      singular: 'order',
      description: 'An order placed by a client at a restaurant, moving from placed to paid.',
      maxRange: 10,
      access: { read: 'public', write: 'scope' },
      required: ['clientId', 'restaurantId'],
      fields: {
        clientId: { type: 'integer', references: 'clients' },
        restaurantId: { type: 'integer', references: 'restaurants' },
        state: {
          type: 'string',
          enum: ['placed', 'preparing', 'ready', 'served', 'paid', 'cancelled'],
          default: 'placed',
          index: true,
          transitions: { placed: ['preparing', 'cancelled'], preparing: ['ready'], ready: ['served'], served: ['paid'] },
        },
        orderValue: { type: 'number', minimum: 0, index: true },
        items: {
          type: 'array',
          items: {
            type: 'object',
            properties: { dishId: { type: 'integer' }, quantity: { type: 'integer', minimum: 1 } },
            required: ['dishId', 'quantity'],
          },
        },
        createdAt: { type: 'string', format: 'date-time', readOnly: true },
        updatedAt: { type: 'string', format: 'date-time', readOnly: true },
      },
    },
  },
  // SPEC §4.10, seed 003's versioning example: before v1, a client's address was one string
  // ("12 rue de la Paix, Paris, 75002") and clients had no createdAt. v0 is still served,
  // deprecated, at /v0 (or /clients with Api-Version: 0).
  previousVersion: {
    version: 0,
    deprecation: '2025-01-01T00:00:00Z',
    sunset: '2027-01-01T00:00:00Z',
    resources: {
      clients: {
        omit: ['createdAt'],
        fields: {
          address: { join: 'address', parts: ['street', 'city', 'zipCode'], separator: ', ' },
        },
      },
    },
  },
  actions: {
    'calculator/sum': {
      summary: 'Adds numbers',
      description: 'A non-resource operation (seed 004): the sum of a list of numbers.',
      access: 'public',
      input: { type: 'array', items: { type: 'number' }, maxItems: 100000, examples: [[1, 2, 3, 5, 8, 13, 21]] },
      output: { type: 'number' },
      handler: (input: Json) => (input as number[]).reduce((a, b) => a + b, 0),
    },
    convert: {
      summary: 'Converts an amount between currencies',
      description: 'A non-resource operation (seed 004) with fixed demo rates.',
      access: 'public',
      input: {
        type: 'object',
        properties: { from: CURRENCY, to: CURRENCY, amount: { type: 'number', minimum: 0 } },
        required: ['from', 'to', 'amount'],
        additionalProperties: false,
      },
      output: { type: 'number' },
      handler: (input: Json) => {
        const { from, to, amount } = input as { from: string; to: string; amount: number };
        const value = (amount / (DEMO_RATES[from] as number)) * (DEMO_RATES[to] as number);
        const digits = to === 'JPY' ? 0 : 2;
        return Math.round(value * 10 ** digits) / 10 ** digits;
      },
    },
  },
});
